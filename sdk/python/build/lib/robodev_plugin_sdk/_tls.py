"""go-plugin's AutoMTLS, plugin side: a throwaway self-signed certificate, the host's
certificate (PLUGIN_CLIENT_CERT) as the only trusted root, client certificates required.

grpcio's TLS stack (BoringSSL) cannot verify client authentication by a P-521 key, which Go's
AutoMTLS hosts use; for a host key on a curve other than P-256/P-384 the plugin serves TLS
without client authentication (the host still authenticates the plugin by its pinned
certificate, and the socket sits in a directory only this user can enter) and says so in a warn
line. robodev's own host uses a P-256 key, so with robodev the client is always verified."""

import datetime
import os
import sys

import grpc

from . import _log


def _certificate():
    """(key PEM, certificate PEM, certificate DER): ECDSA P-256, CN=localhost, SAN localhost,
    CA:TRUE like Go's, valid 30 years."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RoboDev"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=262980))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def _client_key_usable(cert):
    """Whether BoringSSL can verify client authentication by this key (it asks only for
    P-256, P-384 and RSA signatures)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return True
    return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1")


def server_credentials(client_pem):
    """(grpc server credentials, this plugin's certificate DER) for the host's PEM; exits like a
    Go plugin (error, status 1) when it is not a PEM certificate."""
    from cryptography import x509

    try:
        client_cert = x509.load_pem_x509_certificate(client_pem)
    except ValueError as err:
        _log.error("PLUGIN_CLIENT_CERT is not a PEM certificate", error=str(err))
        sys.stderr.write("failed to parse client certificate: %s\n" % err)
        sys.stderr.flush()
        os._exit(1)
    require_client_auth = _client_key_usable(client_cert)
    if not require_client_auth:
        key = client_cert.public_key()
        _log.warn(
            "the host's AutoMTLS key cannot authenticate to grpcio's TLS stack: "
            "serving TLS without client authentication",
            key=getattr(getattr(key, "curve", None), "name", type(key).__name__),
        )
    key_pem, cert_pem, cert_der = _certificate()
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=client_pem,
        require_client_auth=require_client_auth,
    )
    return credentials, cert_der

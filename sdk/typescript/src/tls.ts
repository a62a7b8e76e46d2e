// go-plugin's AutoMTLS, plugin side: a throwaway self-signed ECDSA P-256 certificate shaped like
// go-plugin's (CN=localhost, SAN localhost, CA:TRUE), the host's certificate
// (PLUGIN_CLIENT_CERT) as the only trusted root, client certificates required.
import "reflect-metadata";

import { webcrypto } from "node:crypto";

import * as grpc from "@grpc/grpc-js";
import * as x509 from "@peculiar/x509";

function pem(label: string, der: ArrayBuffer): string {
  const body = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** Server credentials for the host's PEM, and this plugin's certificate (DER). Throws when the
 * host's PEM is not a certificate. */
export async function serverCredentials(hostPem: string): Promise<{ credentials: grpc.ServerCredentials; der: Buffer }> {
  // Refuse garbage before anything listens (as a Go plugin does).
  new x509.X509Certificate(hostPem);
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex").replace(/^[89a-f]/, "1"),
    name: "O=RoboDev, CN=localhost",
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 30 * 365 * 24 * 3600 * 1000),
    signingAlgorithm: algorithm,
    keys: keys as unknown as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }]),
    ],
  });
  const key = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(hostPem),
    [{ private_key: Buffer.from(pem("PRIVATE KEY", key)), cert_chain: Buffer.from(cert.toString("pem")) }],
    true,
  );
  return { credentials, der: Buffer.from(cert.rawData) };
}

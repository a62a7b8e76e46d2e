"""The independent client of robodev-oci's interop tests: the ORAS project's Python SDK.

Run with the venv that scripts/build-oci-interop makes (target/interop/oras-venv). Plain HTTP:
the tests' registries listen on 127.0.0.1. Prints one JSON object on stdout.

  oras_interop.py pull REGISTRY/REPO:TAG OUTDIR
      -> {"files": [paths written], "manifest": {...}}
  oras_interop.py push REGISTRY/REPO:TAG FILE MEDIA_TYPE [CONFIG_FILE CONFIG_MEDIA_TYPE]
      (FILE and CONFIG_FILE relative to the working directory, as oras requires)
      -> {"digest": "sha256:...", "status": 201}
"""

import json
import sys

import oras.provider


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = sys.argv[1], sys.argv[2:]
    registry = oras.provider.Registry(insecure=True)
    if command == "pull" and len(args) == 2:
        target, outdir = args
        files = registry.pull(target=target, outdir=outdir)
        manifest = registry.get_manifest(target)
        print(json.dumps({"files": files, "manifest": manifest}))
        return 0
    if command == "push" and len(args) in (3, 5):
        target, path, media_type = args[:3]
        manifest_config = f"{args[3]}:{args[4]}" if len(args) == 5 else None
        response = registry.push(
            target=target,
            files=[f"{path}:{media_type}"],
            manifest_config=manifest_config,
            quiet=True,
        )
        print(
            json.dumps(
                {
                    "digest": response.headers.get("Docker-Content-Digest"),
                    "status": response.status_code,
                }
            )
        )
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""`make audit`: pip-audit against the pinned requirements (requirements.txt, requirements-dev.txt), with no
resolution and no install (every package is pinned by the lock files).

pip-audit reports a package it could not look up as skipped and still says "No known vulnerabilities found"; here a
skipped package is a failure to audit, told apart from a vulnerability by the exit status:
0 every package audited, none vulnerable; 1 a known vulnerability; 3 some or all packages could not be audited
(the advisory database, PyPI's per-release JSON API, is out of reach: the case on a machine whose only way out is a
package mirror). CI (.ci/run) fails on 1 and prints a warning on 3.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
VULNERABLE, NOT_AUDITED = 1, 3


def main() -> int:
    command = [str(Path(sys.executable).parent / "pip-audit"), "--no-deps", "--disable-pip", "--progress-spinner", "off"]
    for name in REQUIREMENTS:
        command += ["-r", str(ROOT / name)]
    result = subprocess.run([*command, "-f", "json"], capture_output=True, text=True, cwd=ROOT)  # noqa: S603
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(f"pip-audit gave no report (exit {result.returncode}):\n{result.stderr[-2000:]}", file=sys.stderr)
        return NOT_AUDITED
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixes})")
    audited = len(dependencies) - len(skipped)
    print(f"{audited} of {len(dependencies)} pinned packages audited, {len(vulnerable)} with a known vulnerability")
    if vulnerable:
        return VULNERABLE
    if skipped:
        names = ", ".join(d["name"] for d in skipped[:10]) + (" …" if len(skipped) > 10 else "")
        print(f"NOT AUDITED: {len(skipped)} packages could not be looked up ({names}): {skipped[0]['skip_reason']}")
        return NOT_AUDITED
    return 0


if __name__ == "__main__":
    sys.exit(main())

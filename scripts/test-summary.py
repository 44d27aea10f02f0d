#!/usr/bin/python3
"""Print the closing `N passed, N failed` line from pytest's JUnit XML.

Errors (a fixture that failed) count as failed. Exits with the status
given as the second argument, pytest's own.
"""
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print(f"test-summary: no results ({e})", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(int(sys.argv[2]) or 1)
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(int(sys.argv[2]))

#!/usr/bin/env bash
# Runs every test (host unit tests, kernel image checks, QEMU integration tests: all Swift Testing suites)
# and ends with one line `N passed, N failed` counted from the test report. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
report=build/test-results.xml
rm -f build/test-results*.xml
swift test --parallel --xunit-output "$report" 2>&1 | tee build/test.log
status=${PIPESTATUS[0]}
# Swift Testing writes its report beside the XCTest one, with -swift-testing in the name.
xml=build/test-results-swift-testing.xml
if [ ! -s "$xml" ]; then
    echo "no test report at $xml (swift test exited $status)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
total=$(grep -o '<testcase ' "$xml" | wc -l)
# Failure messages may quote serial output with control bytes XML does not allow: drop those first.
failed=$(python3 - "$xml" <<'PY'
import re, sys, xml.etree.ElementTree as ET
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)
root = ET.fromstring(text)
print(sum(1 for case in root.iter('testcase') if case.find('failure') is not None or case.find('error') is not None))
PY
)
if ! [[ "$failed" =~ ^[0-9]+$ ]]; then
    echo "could not read the test report $xml" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
passed=$((total - failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "swift test exited $status with no failed test in the report" >&2
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]

# shellcheck shell=bash
# Sourced by .ci/run and .ci/readme-first: reads the README's set-up block, its first
# indented (four-space) code block, and sets
#   readme_demo_command  its first line: the demo, from a fresh clone;
#   readme_test_command  its second line: the test suite.
# A trailing comment (two or more spaces, then `# `) is dropped. Fails with one line
# when the block is not two commands of that shape, so a README edit cannot quietly
# make CI run something else.
mapfile -t readme_commands < <(awk '/^    [^ ]/ { sub(/^    /, ""); print; seen = 1; next } seen { exit }' README.md \
                               | sed 's/   *# .*$//')
if [ ${#readme_commands[@]} != 2 ]; then
    echo "README.md: the set-up block (the first indented lines) holds ${#readme_commands[@]} commands, not 2" >&2
    exit 1
fi
readme_demo_command=${readme_commands[0]}
readme_test_command=${readme_commands[1]}
if [[ "$readme_demo_command" != *"(cd examples/demo && pytest "* ]]; then
    echo "README.md: the set-up block's first command does not run pytest in examples/demo: $readme_demo_command" >&2
    exit 1
fi
if [[ "$readme_test_command" != *pytest* ]]; then
    echo "README.md: the set-up block's second command does not run pytest: $readme_test_command" >&2
    exit 1
fi

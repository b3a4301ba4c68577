# shellcheck shell=bash
# Sourced by .ci/run, .ci/check-wheel and .ci/floor: sets `pythons` to one interpreter per
# supported CPython minor version found on this machine (pyenv's versions first, then
# pythonX.Y on PATH, then the ones .ci/install-python unpacked), oldest first; just python3
# when none is found. `supported_pythons` lists the versions the package claims.
supported_pythons=(3.11 3.12 3.13 3.14 3.15)
pythons=()
for version in "${supported_pythons[@]}"; do
    candidates=()
    if command -v pyenv >/dev/null; then
        mapfile -t candidates < <(printf '%s\n' "$(pyenv root)/versions/$version".*/bin/python | sort -V -r)
    fi
    candidates+=("$(command -v "python$version" 2>/dev/null || true)")
    candidates+=("${PYTHONS_ROOT:-$HOME/.cache/pytest-lcov/pythons}/$version/bin/python$version")
    for candidate in "${candidates[@]}"; do
        # pyenv shims exist for versions that are installed but not selected: check it runs.
        if [ -n "$candidate" ] && "$candidate" -c 'import venv' >/dev/null 2>&1; then
            pythons+=("$candidate")
            break
        fi
    done
done
if [ ${#pythons[@]} -eq 0 ]; then
    pythons=("$(command -v python3)")
fi

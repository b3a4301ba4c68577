# shellcheck shell=bash
# Sourced by .ci/run and .ci/check-wheel: sets `pythons` to one interpreter per supported
# CPython minor version found on this machine (pyenv's versions first, then pythonX.Y on
# PATH), oldest first; just python3 when none is found.
pythons=()
for version in 3.11 3.12 3.13 3.14; do
    candidates=()
    if command -v pyenv >/dev/null; then
        mapfile -t candidates < <(printf '%s\n' "$(pyenv root)/versions/$version".*/bin/python | sort -V -r)
    fi
    candidates+=("$(command -v "python$version" 2>/dev/null || true)")
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

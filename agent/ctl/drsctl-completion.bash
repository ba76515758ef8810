# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for drsctl: commands, options, and host names from the running drsd.
# Installed as /usr/share/bash-completion/completions/drsctl. Plain bash: it needs nothing
# from the bash-completion package. tests/install/completion.sh keeps the lists in step
# with agent/ctl/drsctl.c.

# Host names from drsd ('drsctl hosts --json'), or nothing, silently: completion must not
# print errors or hang when no drsd answers.
_drsctl_hosts() {
        local socket=("$@")
        timeout 2 drsctl "${socket[@]}" hosts --json 2>/dev/null |
                sed -n 's/^[[:space:]]*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

_drsctl() {
        local cur="${COMP_WORDS[COMP_CWORD]}" prev="" i w verb="" sub="" socket=()
        local verbs="status hosts vms plan apply evacuate exit-maintenance power-clear reset-feedback place history
                     reload policy migrate move-storage rollout"
        local opts="--help --version --json --socket --dry-run --since --snapshot --policy --greedy-only
                    --time-limit --vm --to --copy-storage --remove-source --pool --disk --force --no-wait
                    --to-uri --to-management-uri --all --group --command --health --timeout --parallel
                    --in-windows"
        ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD - 1]}"

        # The command (and policy's subcommand) so far, skipping options and their arguments;
        # --socket is passed on to the drsctl that lists hosts.
        for ((i = 1; i < COMP_CWORD; i++)); do
                w="${COMP_WORDS[i]}"
                case "$w" in
                --socket) socket=(--socket "${COMP_WORDS[i + 1]}") ;&
                --since | --snapshot | --policy | --time-limit | --vm | --to | --pool | --disk | --to-uri | \
                        --to-management-uri | --group | --command | --health | --timeout | --parallel) ((i++)) ;;
                --socket=*) socket=("$w") ;;
                -*) ;;
                *)
                        if [[ -z "$verb" ]]; then
                                verb="$w"
                        elif [[ -z "$sub" ]]; then
                                sub="$w"
                        fi
                        ;;
                esac
        done

        COMPREPLY=()
        case "$prev" in
        --snapshot | --policy | --socket)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return 0
                ;;
        --since | --time-limit | --vm | --pool | --disk | --to-uri | --to-management-uri | --group | --command | \
                --health | --timeout)
                return 0
                ;;
        --parallel)
                mapfile -t COMPREPLY < <(compgen -W "auto 1 2 3 4" -- "$cur")
                return 0
                ;;
        --to)
                mapfile -t COMPREPLY < <(compgen -W "$(_drsctl_hosts "${socket[@]}")" -- "$cur")
                return 0
                ;;
        esac

        if [[ "$cur" == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
                return 0
        fi
        case "$verb" in
        "")
                mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
                ;;
        evacuate | exit-maintenance | power-clear)
                [[ -z "$sub" ]] && mapfile -t COMPREPLY < <(compgen -W "$(_drsctl_hosts "${socket[@]}")" -- "$cur")
                ;;
        policy)
                if [[ -z "$sub" ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "check" -- "$cur")
                else
                        compopt -o filenames 2>/dev/null
                        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                fi
                ;;
        rollout)
                if [[ -z "$sub" ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "start status watch pause resume abort" -- "$cur")
                elif [[ "$sub" == start ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_drsctl_hosts "${socket[@]}")" -- "$cur")
                fi
                ;;
        place)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                ;;
        esac
        return 0
}

complete -F _drsctl drsctl

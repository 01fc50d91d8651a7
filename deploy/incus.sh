#!/usr/bin/env bash
# Deploy one TinyAgentOS agent into an LXC container with incus.
#
# Run by the control plane's command backend (DEPLOY_BACKEND=command,
# DEPLOY_COMMAND="/path/to/deploy/incus.sh [options]"), once per deploy attempt:
#   stdin             the agent as JSON (name, framework, model, ...)
#   TAOS_AGENT_SLUG   the agent's slug; the container is taos-agent-<slug>
#   TAOS_AGENT_TOKEN  the agent's API token (fresh for this attempt)
#
# The token never appears on a command line (where `ps` shows it) nor in the
# instance's incus config (where `incus config show` shows it): it is written
# by the shell's printf builtin to a 0600 file in a private temporary
# directory, pushed into the container as /etc/taos/agent.env (root, 0600),
# and the temporary directory is removed on exit. The agent's service reads
# it, e.g. with systemd's EnvironmentFile=/etc/taos/agent.env.
#
# A new container is created (incus init), given its files, then started. An
# existing one (a retry) gets the new token and agent file and is restarted.
#
# Options:
#   --image IMAGE     image for a new container (default: images:debian/12)
#   --profile NAME    profile for a new container (repeatable; default: incus's)
#   --remote NAME     incus remote that hosts the container (default: the local one)
# Exit status: 0 deployed; 2 bad input; anything else: incus failed.
set -euo pipefail

image="images:debian/12"
remote=""
profiles=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --image) image="${2:?--image needs a value}"; shift 2 ;;
    --profile) profiles+=(--profile "${2:?--profile needs a value}"); shift 2 ;;
    --remote) remote="${2:?--remote needs a value}:"; shift 2 ;;
    *) echo "incus.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

slug="${TAOS_AGENT_SLUG:-}"
if ! [[ "$slug" =~ ^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$ ]]; then
  echo "incus.sh: TAOS_AGENT_SLUG is missing or not a slug" >&2
  exit 2
fi
if [ -z "${TAOS_AGENT_TOKEN:-}" ]; then
  echo "incus.sh: TAOS_AGENT_TOKEN is not set" >&2
  exit 2
fi
token="$TAOS_AGENT_TOKEN"
# incus and everything else below need not inherit the token.
unset TAOS_AGENT_TOKEN

name="taos-agent-${slug}"
instance="${remote}${name}"

umask 077
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
cat > "$workdir/agent.json"
printf 'TAOS_AGENT_TOKEN=%s\nTAOS_AGENT_SLUG=%s\n' "$token" "$slug" > "$workdir/agent.env"
unset token

if incus info "$instance" >/dev/null 2>&1; then
  existed=1
  echo "container $name exists: refreshing its token and restarting it"
else
  existed=0
  echo "creating container $name from $image"
  incus init "$image" "$instance" "${profiles[@]}"
fi

incus config set "$instance" user.taos.slug="$slug"
incus file push --create-dirs --uid 0 --gid 0 --mode 0600 \
  "$workdir/agent.env" "$instance/etc/taos/agent.env"
incus file push --create-dirs --uid 0 --gid 0 --mode 0644 \
  "$workdir/agent.json" "$instance/etc/taos/agent.json"

if [ "$existed" = 1 ]; then
  incus restart --force "$instance" 2>/dev/null || incus start "$instance"
else
  incus start "$instance"
fi
echo "deployed $name"

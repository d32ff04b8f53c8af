#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages a command needs, only when they are missing.
#   scripts/system-deps.sh test   PostgreSQL server, OpenSSH server, pigz, igzip, python3, GnuPG, Chromium, Caddy, promtool (for npm test)
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
case "${1:-}" in
  test)
    compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)
    [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    have ssh-keygen || need+=(openssh-client)
    have pigz || need+=(pigz)
    have igzip || need+=(isal)
    have python3 || need+=(python3)
    [ -x /usr/bin/chromium ] || need+=(chromium)
    have caddy || need+=(caddy)
    have gpg || need+=(gnupg) # OpenPGP backups are tested against GnuPG
    have promtool || need+=(prometheus) # promtool checks and tests docs/prometheus/coffer-rules.yml
    ;;
  *) echo "usage: $0 test" >&2; exit 2 ;;
esac

[ ${#need[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  have sudo || { echo "Need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
# The packaged cluster is not used (tests start their own); do not leave it running.
if [[ " ${need[*]} " == *" postgresql "* ]] && have pg_lsclusters; then
  $sudo pg_ctlcluster --force "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main stop 2>/dev/null || true
fi
# Nor the packaged Caddy and Prometheus services (the e2e starts its own Caddy; only promtool is used).
for service in caddy prometheus; do
  [[ " ${need[*]} " == *" $service "* ]] || continue
  if have systemctl && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now "$service" 2>/dev/null || true
  else
    $sudo service "$service" stop 2>/dev/null || true
  fi
done

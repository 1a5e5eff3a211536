#!/bin/bash
# CoffeETL Grafana host: applies grafana/ and the stack's Grafana settings from the assets bucket.
# Run at boot and every minute by coffeetl-grafana-sync.timer (see infra/grafana-user-data.ts). Cheap
# when nothing changed: one HEAD of grafana/VERSION, whose content the stack changes with any file or
# setting. On a change: sync the folder, render the data source for the warehouse's shape, rewrite
# Grafana's environment and the origin check, restart Grafana only if those changed (dashboards are
# re-read by Grafana's file provider), then apply the viewer accounts through Grafana's HTTP API.
# Secrets are read from SSM into root-only files, never onto a command line or into a log: they reach
# jq, curl and files through stdin or builtins (printf), never as an argument of a program.
# Run by systemd with no environment but PATH: everything else comes from host.env or has a default.
set -euo pipefail
umask 077
root=${COFFEETL_ROOT:-/opt/coffeetl}
# shellcheck source=/dev/null
source "$root/host.env" # COFFEETL_REGION, COFFEETL_BUCKET
export AWS_REGION="$COFFEETL_REGION" AWS_DEFAULT_REGION="$COFFEETL_REGION"
state="$root/state"
dir="$root/grafana"
secrets="$root/secrets"
nginx_conf=${COFFEETL_NGINX_CONF:-/etc/nginx/nginx.conf}
grafana=${COFFEETL_GRAFANA_URL:-http://127.0.0.1:3000}
install -d -m 0711 "$state"
# Mounted into the container, read there by Grafana's user (uid 472, group 0): root and group 0 only.
install -d -m 0750 -o 0 -g 0 "$secrets"
log() { echo "coffeetl-grafana-sync: $*" >&2; }
grafana_up() { curl -fsS -o /dev/null --max-time 5 "$grafana/api/health"; }
# A value inside a double-quoted curl config string: backslash and quote escaped.
curl_quoted() { local v=${1//\\/\\\\}; printf '%s' "${v//\"/\\\"}"; }

etag=$(aws s3api head-object --bucket "$COFFEETL_BUCKET" --key grafana/VERSION --query ETag --output text)
if [ "$etag" = "$(cat "$state/applied-etag" 2>/dev/null || true)" ] && grafana_up; then exit 0; fi
log "applying grafana/ version $etag"
aws s3 sync --delete --only-show-errors "s3://$COFFEETL_BUCKET/grafana/" "$dir/"
# The CLI writes under this script's umask (0700 folders, 0600 files); Grafana reads the dashboards
# folder as its own user (uid 472) through the unit's mount. Nothing synced is secret (names only).
chmod -R u=rwX,go=rX "$dir"
settings="$dir/settings.json"
setting() { jq -r "$1 // empty" "$settings"; }
param() { aws ssm get-parameter --name "$1" --with-decryption --query Parameter.Value --output text; }

# The warehouse: Serverless (the instance role's IAMR user, mapped to the reader role by its tag) or a
# provisioned cluster (clusterIdentifier, or the first label of the bootcamp `host`) read as the
# reader's own database user. The loader's dbUser or secret are never used here.
connection=$(param "$(setting .warehouseParameter)")
field() { jq -r --arg k "$1" '.[$k] // empty' <<<"$connection"; }
workgroup=$(field workgroupName)
cluster=$(field clusterIdentifier)
host=$(field host)
if [ -z "$cluster" ] && [ -n "$host" ]; then cluster=${host%%.*}; fi
database=$(field database)
if [ -z "$database" ]; then database=$(field database-name); fi
reader=$(setting .readerDbUser)
given=$(field readerDbUser)
if [ -n "$cluster" ] && [ -n "$given" ] && [ "$given" != "$reader" ]; then
  log "error: the connection's readerDbUser ($given) is not coffeetl:grafanaReaderDbUser ($reader), which the host's IAM policy allows: make them equal"
  exit 1
fi
if [ -z "$workgroup" ] && [ -z "$cluster" ]; then log "error: the warehouse connection has no workgroupName, clusterIdentifier or host"; exit 1; fi

# Provisioning as Grafana reads it: the repository's files plus the data source for this shape.
rendered="$state/provisioning.new"
rm -rf "$rendered"
cp -r "$dir/provisioning" "$rendered"
if [ -n "$cluster" ]; then cp "$dir/datasource-variants/redshift-provisioned.yaml" "$rendered/datasources/redshift.yaml"; fi
chmod -R a+rX "$rendered"

root_url=$(setting .rootUrl)
{
  echo "AWS_REGION=$AWS_REGION"
  echo "AWS_DEFAULT_REGION=$AWS_REGION"
  echo "REDSHIFT_WORKGROUP_NAME=$workgroup"
  echo "REDSHIFT_CLUSTER_IDENTIFIER=$cluster"
  echo "REDSHIFT_DATABASE=$database"
  echo "REDSHIFT_DB_USER=$reader"
  echo "COFFEETL_STACK=$(setting .stack)"
  echo "GF_SERVER_ROOT_URL=$root_url"
  echo "GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana_admin_password"
  echo "GF_SECURITY_COOKIE_SECURE=true"
  echo "GF_SECURITY_COOKIE_SAMESITE=lax"
  echo "GF_SECURITY_STRICT_TRANSPORT_SECURITY=true"
  echo "GF_SECURITY_DISABLE_GRAVATAR=true"
  echo "GF_USERS_ALLOW_SIGN_UP=false"
  echo "GF_USERS_ALLOW_ORG_CREATE=false"
  echo "GF_USERS_AUTO_ASSIGN_ORG_ROLE=Viewer"
  echo "GF_AUTH_ANONYMOUS_ENABLED=false"
  echo "GF_AUTH_DISABLE_SIGNOUT_MENU=false"
  echo "GF_SNAPSHOTS_EXTERNAL_ENABLED=false"
  echo "GF_PUBLIC_DASHBOARDS_ENABLED=false"
  echo "GF_ANALYTICS_REPORTING_ENABLED=false"
  echo "GF_ANALYTICS_CHECK_FOR_UPDATES=false"
  echo "GF_PLUGINS_PREINSTALL_SYNC=$(setting .plugins)" # each id@version (infra/grafana-config.ts)
  echo "GF_PLUGINS_PREINSTALL_AUTO_UPDATE=false"
  # No viewer picks an auto-refresh faster than this (each warehouse query wakes a Serverless workgroup).
  min_refresh=$(setting .minRefreshInterval)
  echo "GF_DASHBOARDS_MIN_REFRESH_INTERVAL=${min_refresh:-1h}"
  echo "COFFEETL_IMAGE=$(setting .image)"
} > "$state/grafana.env.new"

param "$(setting .adminPasswordParameter)" > "$secrets/grafana_admin_password.new"
chown 472:0 "$secrets/grafana_admin_password.new"
chmod 0400 "$secrets/grafana_admin_password.new"
mv -f "$secrets/grafana_admin_password.new" "$secrets/grafana_admin_password"
printf 'user = "admin:%s"\n' "$(curl_quoted "$(<"$secrets/grafana_admin_password")")" > "$state/curl-admin"

# Only requests carrying CloudFront's origin header reach Grafana (the security group already admits
# only CloudFront's addresses; the header stops another CloudFront distribution).
origin_secret=$(param "$(setting .originSecretParameter)")
cat > "$nginx_conf.new" <<NGINX
user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log warn;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
  server_tokens off;
  access_log off;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 80 default_server;
    client_max_body_size 10m;
    if (\$http_x_coffeetl_origin != "$origin_secret") { return 403; }
    location / {
      proxy_pass http://127.0.0.1:3000;
      proxy_http_version 1.1;
      proxy_set_header Host \$host;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_read_timeout 120s;
    }
  }
}
NGINX
if ! cmp -s "$nginx_conf.new" "$nginx_conf"; then
  mv -f "$nginx_conf.new" "$nginx_conf"
  systemctl enable nginx >/dev/null 2>&1 || true
  systemctl reload-or-restart nginx
else
  rm -f "$nginx_conf.new"
fi

# Restart Grafana only when its environment or provisioning changed (or it is down).
changed=0
if ! cmp -s "$state/grafana.env.new" "$state/grafana.env"; then changed=1; fi
if ! diff -qr "$rendered" "$state/provisioning" >/dev/null 2>&1; then changed=1; fi
if [ "$changed" = 1 ]; then
  mv -f "$state/grafana.env.new" "$state/grafana.env"
  rm -rf "$state/provisioning"
  mv "$rendered" "$state/provisioning"
else
  rm -rf "$rendered" "$state/grafana.env.new"
fi
if [ "$changed" = 1 ] || ! grafana_up; then
  log "restarting Grafana"
  systemctl restart coffeetl-grafana.service
fi
for _ in $(seq 1 60); do grafana_up && break; sleep 5; done
grafana_up || { log "error: Grafana is not healthy after 5 minutes"; exit 1; }

api() {
  local method=$1 path=$2
  shift 2
  curl -fsS -K "$state/curl-admin" -X "$method" -H 'Content-Type: application/json' "$grafana$path" "$@"
}
# The admin password is applied only when Grafana's database is created: keep it equal to the parameter.
if ! api GET /api/user -o /dev/null 2>/dev/null; then
  log "resetting the admin password to its parameter"
  docker exec -i grafana grafana cli admin reset-admin-password --password-from-stdin < "$secrets/grafana_admin_password" >/dev/null
fi

# Viewer accounts: one per configured login, role Viewer, password from its own SecureString; any
# other account except admin is removed.
users=$(api GET "/api/users?perpage=5000")
wanted=$(jq -c '.viewers // []' "$settings")
while read -r viewer; do
  [ -n "$viewer" ] || continue
  login=$(jq -r .login <<<"$viewer")
  password=$(param "$(jq -r .passwordParameter <<<"$viewer")")
  id=$(jq -r --arg l "$login" '.[] | select(.login == $l) | .id' <<<"$users")
  if [ -z "$id" ]; then
    # The password reaches jq on stdin (printf is a builtin): never an argument.
    id=$(printf '%s' "$password" | jq -Rs --argjson v "$viewer" '{login: $v.login, email: $v.email, name: ($v.name // $v.login), password: ., OrgId: 1}' |
      api POST /api/admin/users --data @- | jq -r .id)
    log "created viewer $login"
  else
    jq -n --argjson v "$viewer" '{login: $v.login, email: $v.email, name: ($v.name // $v.login)}' | api PUT "/api/users/$id" --data @- >/dev/null
    if ! printf 'user = "%s:%s"\n' "$login" "$(curl_quoted "$password")" | curl -fsS -o /dev/null -K - "$grafana/api/user"; then
      printf '%s' "$password" | jq -Rs '{password: .}' | api PUT "/api/admin/users/$id/password" --data @- >/dev/null
    fi
  fi
  jq -n '{role: "Viewer"}' | api PATCH "/api/orgs/1/users/$id" --data @- >/dev/null
done < <(jq -c '.[]' <<<"$wanted")
jq -r --argjson keep "$(jq '[.[].login]' <<<"$wanted")" \
  '.[] | select(.login != "admin" and ((.login | IN($keep[])) | not)) | "\(.id) \(.login)"' <<<"$users" |
  while read -r id login; do
    api DELETE "/api/admin/users/$id" >/dev/null
    log "removed account $login (not in coffeetl:grafanaViewers)"
  done

echo "$etag" > "$state/applied-etag"
log "applied $etag"

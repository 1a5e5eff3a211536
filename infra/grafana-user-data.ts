// The Grafana host's boot script (cloud-init user data, a shell script; the cap is 16 KB, so the
// dashboards travel through S3, not here). It holds names only: the admin password and the warehouse
// connection are read from SSM by the host at every boot, with its instance role.
//
// First boot: install Docker and jq, write a systemd unit and its prepare script, start it. Every
// boot (the unit's ExecStartPre): sync grafana/ from the assets bucket, read the connection JSON,
// write the password to a root/grafana-only file, pick the Redshift datasource variant, run the
// pinned Grafana image with the provisioning folder, the dashboards and the Redshift plugin.

export interface GrafanaUserDataArgs {
  region: string;
  assetsBucket: string;
  assetsSha256: string;
  adminPasswordParameter: string;
  warehouseParameter: string;
  image: string;
  plugins: string;
  stack: string;
  port: number;
}

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export function renderGrafanaUserData(a: GrafanaUserDataArgs): string {
  const q = shellQuote;
  return `#!/bin/bash
# CoffeETL Grafana host (stack ${a.stack}).
# grafana/ assets sha256: ${a.assetsSha256}
set -euo pipefail
dnf install -y docker jq
systemctl enable --now docker
install -d -m 0755 /opt/coffeetl
install -d -m 0700 /opt/coffeetl/secrets

cat > /opt/coffeetl/prepare-grafana.sh <<'PREPARE'
#!/bin/bash
set -euo pipefail
export AWS_REGION=${q(a.region)} AWS_DEFAULT_REGION=${q(a.region)}
dir=/opt/coffeetl/grafana
install -d -m 0755 "$dir"
aws s3 sync --delete --only-show-errors ${q(`s3://${a.assetsBucket}/grafana/`)} "$dir/"

connection=$(aws ssm get-parameter --name ${q(a.warehouseParameter)} --with-decryption --query Parameter.Value --output text)
field() { jq -r --arg k "$1" '.[$k] // empty' <<<"$connection"; }
cluster=$(field clusterIdentifier)
if [ -n "$cluster" ] && [ -f "$dir/datasource-variants/redshift-provisioned.yaml" ]; then
  cp "$dir/datasource-variants/redshift-provisioned.yaml" "$dir/provisioning/datasources/redshift.yaml"
fi
umask 077
{
  echo "AWS_REGION=$AWS_REGION"
  echo "AWS_DEFAULT_REGION=$AWS_REGION"
  echo "REDSHIFT_WORKGROUP_NAME=$(field workgroupName)"
  echo "REDSHIFT_CLUSTER_IDENTIFIER=$cluster"
  echo "REDSHIFT_DATABASE=$(field database)"
  echo "REDSHIFT_DB_USER=$(field dbUser)"
  echo "REDSHIFT_SECRET_ARN=$(field secretArn)"
  echo "COFFEETL_STACK="${q(a.stack)}
  echo "GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana_admin_password"
  echo "GF_PLUGINS_PREINSTALL_SYNC="${q(a.plugins)}
  echo "GF_USERS_ALLOW_SIGN_UP=false"
  echo "GF_AUTH_ANONYMOUS_ENABLED=false"
  echo "GF_SECURITY_DISABLE_GRAVATAR=true"
  echo "GF_ANALYTICS_REPORTING_ENABLED=false"
  echo "GF_ANALYTICS_CHECK_FOR_UPDATES=false"
} > /opt/coffeetl/grafana.env

# The admin password: SecureString -> a file only root and the container's grafana user (472) read.
aws ssm get-parameter --name ${q(a.adminPasswordParameter)} --with-decryption --query Parameter.Value --output text \\
  > /opt/coffeetl/secrets/grafana_admin_password
chown 472:0 /opt/coffeetl/secrets/grafana_admin_password
chmod 0400 /opt/coffeetl/secrets/grafana_admin_password
chmod 0711 /opt/coffeetl/secrets
PREPARE
chmod 0700 /opt/coffeetl/prepare-grafana.sh

cat > /etc/systemd/system/coffeetl-grafana.service <<'UNIT'
[Unit]
Description=CoffeETL Grafana
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target

[Service]
Restart=always
RestartSec=15
TimeoutStartSec=600
ExecStartPre=/opt/coffeetl/prepare-grafana.sh
ExecStartPre=-/usr/bin/docker rm -f grafana
ExecStart=/usr/bin/docker run --rm --name grafana -p ${a.port}:3000 --env-file /opt/coffeetl/grafana.env \\
  -v grafana-data:/var/lib/grafana \\
  -v /opt/coffeetl/grafana/provisioning:/etc/grafana/provisioning:ro \\
  -v /opt/coffeetl/grafana/dashboards:/etc/grafana/dashboards/coffeetl:ro \\
  -v /opt/coffeetl/secrets/grafana_admin_password:/run/secrets/grafana_admin_password:ro \\
  ${a.image}
ExecStop=/usr/bin/docker stop grafana

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now coffeetl-grafana.service
`;
}

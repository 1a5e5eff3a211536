// The Grafana host's boot script (cloud-init user data; capped at 16 KB). It holds names only, and
// nothing that changes with a dashboard, a viewer or a setting: those travel through the assets
// bucket and are applied on the running host by grafana/host/sync.sh (every minute, cheap when
// nothing changed). So the instance is replaced only when the host itself changes (instance type,
// volume, subnet), and Grafana's database lives on a separate EBS volume that outlives it.
//
// First boot: install Docker, nginx (the origin check in front of Grafana), jq; wait for the data
// volume (attached after the instance exists), format it only if blank, mount it; write the Grafana
// unit (started by the sync, never before its environment exists) and the sync timer.

export interface GrafanaUserDataArgs {
  region: string;
  assetsBucket: string;
  /** The data volume's id (vol-...): found by its NVMe serial, formatted once, mounted at every boot. */
  dataVolumeId: string;
  stack: string;
}

const GRAFANA_DATA_DIR = "/var/lib/coffeetl-grafana";

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export function renderGrafanaUserData(a: GrafanaUserDataArgs): string {
  const q = shellQuote;
  const serial = a.dataVolumeId.replace("-", "");
  return `#!/bin/bash
# CoffeETL Grafana host (stack ${a.stack}). Dashboards and settings: s3://${a.assetsBucket}/grafana/ (grafana/host/sync.sh).
set -euo pipefail
dnf install -y docker jq nginx
systemctl enable --now docker
install -d -m 0755 /opt/coffeetl
cat > /opt/coffeetl/host.env <<ENV
COFFEETL_REGION=${q(a.region)}
COFFEETL_BUCKET=${q(a.assetsBucket)}
ENV

# Grafana's database on its own volume: attached once this instance exists, so wait for it.
device=""
for _ in $(seq 1 180); do
  for candidate in /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial} /dev/xvdf /dev/sdf; do
    if [ -b "$candidate" ]; then device=$(readlink -f "$candidate"); break 2; fi
  done
  sleep 5
done
if [ -z "$device" ]; then echo "coffeetl: data volume ${a.dataVolumeId} never appeared" >&2; exit 1; fi
if [ -z "$(blkid -o value -s TYPE "$device" || true)" ]; then mkfs.xfs -L coffeetl-grafana "$device"; fi
install -d -m 0755 ${GRAFANA_DATA_DIR}
uuid=$(blkid -o value -s UUID "$device")
grep -q "$uuid" /etc/fstab || echo "UUID=$uuid ${GRAFANA_DATA_DIR} xfs defaults,nofail 0 2" >> /etc/fstab
mountpoint -q ${GRAFANA_DATA_DIR} || mount ${GRAFANA_DATA_DIR}
chown 472:0 ${GRAFANA_DATA_DIR}

cat > /etc/systemd/system/coffeetl-grafana.service <<'UNIT'
[Unit]
Description=CoffeETL Grafana (started by coffeetl-grafana-sync once its settings exist)
After=docker.service network-online.target
Requires=docker.service
RequiresMountsFor=${GRAFANA_DATA_DIR}

[Service]
EnvironmentFile=/opt/coffeetl/state/grafana.env
Restart=always
RestartSec=15
TimeoutStartSec=600
ExecStartPre=-/usr/bin/docker rm -f grafana
ExecStart=/usr/bin/docker run --rm --name grafana -p 127.0.0.1:3000:3000 --env-file /opt/coffeetl/state/grafana.env \\
  -v ${GRAFANA_DATA_DIR}:/var/lib/grafana \\
  -v /opt/coffeetl/state/provisioning:/etc/grafana/provisioning:ro \\
  -v /opt/coffeetl/grafana/dashboards:/etc/grafana/dashboards/coffeetl:ro \\
  -v /opt/coffeetl/secrets:/run/secrets:ro \\
  \${COFFEETL_IMAGE}
ExecStop=/usr/bin/docker stop grafana
UNIT

cat > /etc/systemd/system/coffeetl-grafana-sync.service <<'UNIT'
[Unit]
Description=CoffeETL Grafana: apply grafana/ and settings from the assets bucket
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
TimeoutStartSec=900
ExecStartPre=/bin/bash -c 'source /opt/coffeetl/host.env && aws s3 cp --only-show-errors "s3://$COFFEETL_BUCKET/grafana/host/sync.sh" /opt/coffeetl/sync.sh'
ExecStart=/bin/bash /opt/coffeetl/sync.sh
UNIT

cat > /etc/systemd/system/coffeetl-grafana-sync.timer <<'UNIT'
[Unit]
Description=CoffeETL Grafana: poll the assets bucket

[Timer]
OnBootSec=10s
OnUnitInactiveSec=60s

[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now coffeetl-grafana-sync.timer
`;
}

// Client logins from coffeetl:grafanaViewers: one generated password per viewer, each in its own
// SSM SecureString under <prefix>/grafana/viewers/<login>. The host reads them (and only them) to
// create or update each Grafana Viewer account; a login removed from the list loses its parameter
// here and its account on the host (grafana/host/sync.sh).
import * as pulumi from "@pulumi/pulumi";
import type { GrafanaViewer } from "./grafana-config.js";
import { SecretParameter } from "./secret-parameter.js";

export interface GrafanaViewersArgs {
  viewers: GrafanaViewer[];
  /** e.g. /coffeetl/acme-prod */
  parameterPrefix: string;
  tags?: Record<string, string>;
}

export interface ViewerAccount extends GrafanaViewer {
  passwordParameter: pulumi.Output<string>;
  passwordParameterArn: pulumi.Output<string>;
}

export class GrafanaViewers extends pulumi.ComponentResource {
  readonly accounts: ViewerAccount[];

  constructor(name: string, args: GrafanaViewersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:grafana:GrafanaViewers", name, {}, opts);
    this.accounts = args.viewers.map((viewer) => {
      const secret = new SecretParameter(
        `${name}-${viewer.login}`,
        {
          parameterName: `${args.parameterPrefix}/grafana/viewers/${viewer.login}`,
          description: `CoffeETL Grafana password of viewer ${viewer.login} (${viewer.email})`,
          length: 24,
          tags: args.tags,
        },
        { parent: this },
      );
      return { ...viewer, passwordParameter: secret.name, passwordParameterArn: secret.arn };
    });
    this.registerOutputs({ parameters: this.accounts.map((a) => a.passwordParameter) });
  }
}

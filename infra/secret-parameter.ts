// A generated secret kept in an SSM SecureString parameter. The value only ever exists as a Pulumi
// secret (encrypted in the state) and in the parameter: never in plain config, outputs or user data.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface SecretParameterArgs {
  /** Full parameter name, e.g. `/coffeetl/acme-prod/grafana-admin-password`. */
  parameterName: string;
  description: string;
  /** Generated length (alphanumeric, so it survives shells and env files unquoted). */
  length: number;
  /** Use this value instead of generating one (e.g. a secret carried over from an earlier stack). */
  value?: pulumi.Input<string>;
  tags?: Record<string, string>;
}

export class SecretParameter extends pulumi.ComponentResource {
  readonly parameter: aws.ssm.Parameter;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: SecretParameterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:secrets:SecretParameter", name, {}, opts);
    const value =
      args.value !== undefined
        ? pulumi.secret(args.value)
        : new random.RandomPassword(`${name}-value`, { length: args.length, special: false, minUpper: 1, minLower: 1, minNumeric: 1 }, { parent: this }).result;
    this.parameter = new aws.ssm.Parameter(
      name,
      { name: args.parameterName, description: args.description, type: "SecureString", value, tags: args.tags },
      { parent: this },
    );
    this.name = this.parameter.name;
    this.arn = this.parameter.arn;
    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}

// Explicit AWS providers built from the stack's own `aws:` configuration. A `new aws.Provider(...)`
// takes none of the stack's `aws:` keys (pulumi/pulumi-aws#1307, #3259): without this, a provider for
// another region would ignore `aws:profile`, `aws:assumeRoles`, `aws:sharedCredentialsFiles` and
// `aws:defaultTags`, and deploy into whatever account the default credentials point to.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Provider arguments whose config values are numbers (every other scalar stays a string or boolean). */
const NUMERIC = new Set(["maxRetries", "tokenBucketRateLimiterCapacity"]);
/** Keys that hold credentials: kept secret in the provider's state whatever the config says. */
const SENSITIVE = new Set(["accessKey", "secretKey", "token"]);

/** A config value as the provider argument it stands for (objects and lists are stored as JSON). */
function providerValue(key: string, raw: string): unknown {
  const text = raw.trim();
  if (text.startsWith("{") || text.startsWith("[")) return JSON.parse(text);
  if (text === "true" || text === "false") return text === "true";
  if (NUMERIC.has(key) && /^\d+$/.test(text)) return Number(text);
  return raw;
}

/** Every `aws:` stack config key except the region, as provider arguments (secrets stay secret). */
export function stackAwsProviderArgs(): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [fullKey, raw] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith("aws:")) continue;
    const key = fullKey.slice("aws:".length);
    if (key === "region") continue;
    const value = providerValue(key, raw);
    args[key] = SENSITIVE.has(key) ? pulumi.secret(value) : value;
  }
  return args;
}

/** A provider for `region` with the stack's credentials, account guards and default tags. */
export function regionalProvider(name: string, region: string, opts?: pulumi.CustomResourceOptions): aws.Provider {
  return new aws.Provider(name, { ...(stackAwsProviderArgs() as aws.ProviderArgs), region: region as aws.Region }, opts);
}

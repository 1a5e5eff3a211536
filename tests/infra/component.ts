// Declares one infra component (or a few) alone under Pulumi mocks, outside the whole program, and
// records what it declares: the unit tests of infra/*.ts (tests/infra-<component>.test.ts). Uses
// harness.ts's made-up AWS outputs. Call it once per test file: the mocks are set per process.
import * as pulumi from "@pulumi/pulumi";
import { computed, finders, lookup, type Recorded } from "./harness.js";

export interface Declared {
  resources: Recorded[];
  byType(type: string): Recorded[];
  one(type: string, name: string): Recorded;
}

type Named = { __name?: string; __pulumiType?: string };
const label = (r: unknown) => `${(r as Named).__pulumiType}::${(r as Named).__name}`;

/** Runs `build` inside a mocked stack and returns the resources it declared, with parent and dependsOn. */
export async function declare(build: () => unknown, stack = "acme-prod"): Promise<Declared> {
  const resources: Recorded[] = [];
  const relations = new Map<string, { parent?: string; dependsOn: string[] }>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const { id, state } = computed(args.type, args.name, args.inputs);
        const rel = relations.get(`${args.type}::${args.name}`) ?? { dependsOn: [] };
        resources.push({ type: args.type, name: args.name, id, inputs: args.inputs, props: { ...args.inputs, ...state }, ...rel });
        return { id, state: { ...args.inputs, ...state } };
      },
      call: (args) => lookup(args.token, args.inputs),
    },
    "coffeetl",
    stack,
    false,
  );
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      const deps = t.opts.dependsOn;
      const list = deps === undefined ? [] : Array.isArray(deps) ? deps : [deps];
      relations.set(`${t.type}::${t.name}`, {
        parent: t.opts.parent && (t.opts.parent as Named).__pulumiType !== "pulumi:pulumi:Stack" ? label(t.opts.parent) : undefined,
        dependsOn: list.filter((d): d is pulumi.Resource => pulumi.Resource.isInstance(d)).map((d) => (d as Named).__name ?? "?"),
      });
      return undefined;
    });
    await build();
    return undefined;
  });
  // Let registrations made inside applies reach the mocks.
  await new Promise((r) => setTimeout(r, 50));
  const { byType, one } = finders(resources);
  return { resources, byType, one };
}

/** Pulumi's wire signature of a secret value (what mocks receive for a secret input). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** The plain value of a secret input; fails when the input was not marked secret. */
export function secretValue(input: unknown): unknown {
  const wrapped = input as Record<string, unknown> | undefined;
  if (!wrapped || typeof wrapped !== "object" || !Object.values(wrapped).includes(SECRET_SIG)) throw new Error(`not a secret: ${JSON.stringify(input)}`);
  return wrapped.value;
}

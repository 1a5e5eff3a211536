// A created warehouse that a config change would replace: refused at preview with the reason, even on
// a dev stack that turned protection off. Run alone: node --import tsx tests/infra-warehouse-replace.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { namespaceReplacementProblem } from "../infra/warehouse.js";
import { runProgram } from "./infra/harness.js";

test("namespaceReplacementProblem: none before the namespace exists or when unchanged; the key, both values and the snapshot command otherwise", () => {
  const wanted = { database: "sales", adminUsername: "coffeetl_admin" };
  assert.is(namespaceReplacementProblem("coffeetl-acme", undefined, wanted), undefined);
  assert.is(namespaceReplacementProblem("coffeetl-acme", { dbName: "sales", adminUsername: "coffeetl_admin" }, wanted), undefined);
  const problem = namespaceReplacementProblem("coffeetl-acme", { dbName: "coffeetl", adminUsername: "root" }, wanted)!;
  assert.match(problem, /coffeetl:warehouseDatabase is "sales" but the warehouse's database is "coffeetl"/);
  assert.match(problem, /coffeetl:warehouseAdminUsername is "coffeetl_admin" but the warehouse's admin is "root"/);
  assert.match(problem, /replace Redshift Serverless namespace coffeetl-acme and delete every loaded day/);
  assert.match(problem, /aws redshift-serverless create-snapshot --namespace-name coffeetl-acme/);
});

test("under the mocks: a live namespace with another database stops the program, naming the key; protection off changes nothing to that", async () => {
  // The failing input surfaces as Pulumi reports it on a real preview: an error of the program run.
  // (Every Output that depends on it rejects too: all are caught here.)
  const refused = new Promise<Error>((resolve) => {
    process.on("unhandledRejection", (e) => resolve(e as Error));
    process.on("uncaughtException", (e) => resolve(e));
  });
  const run = runProgram(
    {
      redshiftParameterName: "/coffeetl/newco-dev/redshift",
      grafanaAllowedCidrs: "192.0.2.0/24",
      warehouse: "serverless",
      warehouseDatabase: "analytics",
      warehouseProtect: "false",
    },
    "newco-dev",
    {
      "aws:redshiftserverless/getNamespace:getNamespace": (args) => ({
        namespaceName: args.namespaceName,
        dbName: "sales",
        adminUsername: "coffeetl_admin",
        id: args.namespaceName,
      }),
    },
  ).then(
    () => undefined,
    (e: Error) => e,
  );
  const error = await Promise.race([refused, run.then((e) => e ?? new Error("the program ran to the end"))]);
  assert.match(String(error!.message ?? error), /coffeetl:warehouseDatabase is "analytics" but the warehouse's database is "sales"/);
});

test.run();

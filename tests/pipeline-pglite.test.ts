// The local pipeline on the embedded warehouse (PGlite, file-backed under the home folder).
import { test } from "uvu";
import { warehouseSuite } from "./warehouse-suite.js";

warehouseSuite(test, { connection: async () => ({}) });

test.run();

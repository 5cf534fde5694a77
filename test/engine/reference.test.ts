/** The abstract engine suite on the naive reference model (test/reference/). */
import { ReferenceEngine } from "../reference/reference-engine.js";
import { defineEngineSuite } from "./suite.js";

defineEngineSuite("reference", (config) => new ReferenceEngine(config));

/** The abstract engine suite on the fast engine: the same cases the reference model passes. */
import { Engine } from "../../src/engine/engine.js";
import { defineEngineSuite } from "./suite.js";

defineEngineSuite("engine", (config) => new Engine(config), { heavyBounds: true });

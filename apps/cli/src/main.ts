#!/usr/bin/env node
/** swlite: the terminal client for oap-lite. */
import { runCli } from './cli';

process.exitCode = await runCli(process.argv.slice(2));

#!/usr/bin/env node
// A file that exists before the first build, so a fresh workspace install can link the bin (the CLI is in dist).
import '../dist/edge/bin.js';

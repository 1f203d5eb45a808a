// The AWS SDK for JavaScript v3, unmodified, against a running Flicker: the same calls a user's deploy
// script makes. Run by deploy/.../JsSdkTest; by hand:
//   FLICKER_ENDPOINT=http://localhost:9000 FLICKER_ZIP=/tmp/fn.zip node sdk-test.mjs
// FLICKER_ZIP holds the example C runtime's bootstrap (examples/c-runtime/bootstrap.c), which answers
// {"name":"X"} with {"greeting":"hello, X"} and an event without a name with a function error.
// Each step is one function in STEPS; it prints "ok <step>" or ends the run with "FAIL <step>: ...".
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  paginateListFunctions,
} from "@aws-sdk/client-lambda";

const endpoint = required("FLICKER_ENDPOINT");
const zip = readFileSync(required("FLICKER_ZIP"));
// The platform's defaults (README); FLICKER_ACCESS_KEY_ID and FLICKER_SECRET_ACCESS_KEY as the platform reads them.
const accessKeyId = process.env.FLICKER_ACCESS_KEY_ID ?? "flicker";
const secretAccessKey = process.env.FLICKER_SECRET_ACCESS_KEY ?? "flicker-local-secret";
// The snapshot of a new configuration or code takes a second or so; FLICKER_TEST_TIME_SCALE says how much slower
// this machine is (the emulated SVM host of ./flicker test sets it; see test-support's TestTime).
const ACTIVE_WITHIN_MILLIS = 30_000 * Number(process.env.FLICKER_TEST_TIME_SCALE ?? 1);

const lambda = client(accessKeyId, secretAccessKey);
const name = `js-sdk-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const encoder = new TextEncoder();

/** What the steps share: the code each version was deployed with. */
const state = { firstSha: undefined, secondSha: undefined };

const STEPS = {
  async wrongSecretIsRefused() {
    await refused(client(accessKeyId, "not-the-secret"), "InvalidSignatureException");
  },

  async unknownKeyIsRefused() {
    await refused(client("AKIDUNKNOWN", secretAccessKey), "UnrecognizedClientException");
  },

  async createFunction() {
    const created = await lambda.send(new CreateFunctionCommand({
      FunctionName: name,
      Runtime: "provided.al2023",
      Handler: "bootstrap.handler",
      // Required by Lambda's model; Flicker does not check it.
      Role: "arn:aws:iam::000000000000:role/flicker-js-sdk-test",
      Code: { ZipFile: zip },
      MemorySize: 128,
      Timeout: 3,
      Environment: { Variables: { STAGE: "one" } },
      Description: "created by sdk-test.mjs",
    }));
    assert.equal(created.$metadata.httpStatusCode, 201);
    assert.equal(created.FunctionName, name);
    assert.equal(created.Runtime, "provided.al2023");
    assert.equal(created.MemorySize, 128);
    assert.equal(created.State, "Pending");
    state.firstSha = created.CodeSha256;
    assert.ok(state.firstSha, "CreateFunction returned no CodeSha256");
  },

  async becomesActive() {
    const fn = await awaitActive();
    assert.equal(fn.Configuration.Environment.Variables.STAGE, "one");
    assert.equal(fn.Configuration.Description, "created by sdk-test.mjs");
    // No Location: Flicker keeps no zip to download, and a host path would tell a client about the host.
    assert.equal(fn.Code.RepositoryType, "Flicker");
    assert.equal(fn.Code.Location, undefined, `GetFunction returned Code.Location ${fn.Code.Location}`);
  },

  async invokeWithLogTail() {
    const r = await invoke({ name: "JS" }, { LogType: "Tail" });
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, undefined);
    assert.equal(r.ExecutedVersion, "$LATEST");
    assert.deepEqual(json(r.Payload), { greeting: "hello, JS" });
    // The example runtime logs one line per event, naming the version it runs as.
    assert.match(Buffer.from(r.LogResult ?? "", "base64").toString("utf8"), new RegExp(`handling .* as ${name}:\\$LATEST`));
  },

  async invokeFunctionError() {
    const r = await invoke({}, { LogType: "Tail" });
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, "Unhandled");
    assert.equal(json(r.Payload).errorType, "MissingName");
    const log = Buffer.from(r.LogResult ?? "", "base64").toString("utf8");
    assert.match(log, /event without a name/);
  },

  async invokeEvent() {
    const r = await invoke({ name: "later" }, { InvocationType: "Event" });
    assert.equal(r.StatusCode, 202);
  },

  async invokeDryRun() {
    const r = await invoke({ name: "dry" }, { InvocationType: "DryRun" });
    assert.equal(r.StatusCode, 204);
  },

  async listFunctions() {
    // The paginator follows NextMarker, as a user listing every function would.
    const names = [];
    for await (const page of paginateListFunctions({ client: lambda, pageSize: 50 }, {})) {
      names.push(...page.Functions.map((f) => f.FunctionName));
    }
    assert.ok(names.includes(name), `${name} is not in ListFunctions: ${names.join(", ")}`);
  },

  async updateFunctionConfiguration() {
    const r = await lambda.send(new UpdateFunctionConfigurationCommand({
      FunctionName: name,
      MemorySize: 256,
      Timeout: 5,
      Environment: { Variables: { STAGE: "two" } },
    }));
    assert.equal(r.MemorySize, 256);
    await awaitActive();
    const again = await invoke({ name: "configured" });
    assert.deepEqual(json(again.Payload), { greeting: "hello, configured" });
  },

  async badConfigurationIsRefused() {
    await rejectsWith(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, MemorySize: 5 })),
      "InvalidParameterValueException", 400);
  },

  async updateFunctionCode() {
    const r = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: withComment(zip, "v2") }));
    state.secondSha = r.CodeSha256;
    assert.notEqual(state.secondSha, state.firstSha, "new code, same CodeSha256");
    await awaitActive();
    const again = await invoke({ name: "v2" });
    assert.deepEqual(json(again.Payload), { greeting: "hello, v2" });
  },

  async getFunctionConfiguration() {
    const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    assert.equal(c.State, "Active");
    assert.equal(c.MemorySize, 256);
    assert.equal(c.Timeout, 5);
    assert.equal(c.Environment.Variables.STAGE, "two");
    assert.equal(c.CodeSha256, state.secondSha);
  },

  async publishVersion() {
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: name, CodeSha256: state.secondSha, Description: "v1" }));
    assert.equal(v.$metadata.httpStatusCode, 201);
    assert.equal(v.Version, "1");
    assert.equal(v.FunctionArn.endsWith(`:function:${name}:1`), true, v.FunctionArn);
    await awaitActive("1");
  },

  async invokeVersion() {
    const r = await invoke({ name: "one" }, { Qualifier: "1", LogType: "Tail" });
    assert.equal(r.ExecutedVersion, "1");
    assert.deepEqual(json(r.Payload), { greeting: "hello, one" });
    assert.match(Buffer.from(r.LogResult ?? "", "base64").toString("utf8"), new RegExp(`as ${name}:1\n`));
  },

  async listVersionsByFunction() {
    const r = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: name }));
    assert.deepEqual(r.Versions.map((v) => v.Version), ["$LATEST", "1"]);
    assert.equal(r.Versions[1].Description, "v1");
  },

  async deleteFunction() {
    const r = await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    assert.equal(r.$metadata.httpStatusCode, 204);
  },

  async deletedFunctionIsNotFound() {
    const e = await rejectsWith(lambda.send(new GetFunctionCommand({ FunctionName: name })), "ResourceNotFoundException", 404);
    assert.ok(e instanceof ResourceNotFoundException, "not the SDK's ResourceNotFoundException class");
  },
};

function required(variable) {
  const value = process.env[variable];
  if (!value) {
    console.error(`sdk-test: set ${variable}`);
    process.exit(2);
  }
  return value;
}

function client(keyId, secret) {
  return new LambdaClient({ endpoint, region: "local", credentials: { accessKeyId: keyId, secretAccessKey: secret } });
}

function invoke(event, options = {}) {
  return lambda.send(new InvokeCommand({ FunctionName: name, Payload: encoder.encode(JSON.stringify(event)), ...options }));
}

function json(payload) {
  return JSON.parse(Buffer.from(payload).toString("utf8"));
}

/** Polls GetFunction until the function (or one version of it) leaves Pending; it must then be Active. */
async function awaitActive(qualifier = undefined) {
  const deadline = Date.now() + ACTIVE_WITHIN_MILLIS;
  for (;;) {
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: qualifier }));
    const { State, StateReason } = fn.Configuration;
    if (State !== "Pending") {
      assert.equal(State, "Active", `State ${State}: ${StateReason}`);
      return fn;
    }
    assert.ok(Date.now() < deadline, `still Pending after ${ACTIVE_WITHIN_MILLIS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The call must fail with the SDK's error of that name (from X-Amzn-ErrorType) and HTTP status; returns the error. */
async function rejectsWith(call, errorName, status) {
  let error;
  await assert.rejects(call, (e) => {
    error = e;
    return true;
  });
  assert.equal(error.name, errorName, `expected ${errorName}, got ${error.name}: ${error.message}`);
  assert.equal(error.$metadata?.httpStatusCode, status);
  return error;
}

/**
 * A call signed with a wrong key must be refused with Lambda's 403 error of that name. A DeleteFunction:
 * were the check broken, a refused read would prove less than a refused change.
 */
async function refused(badClient, errorName) {
  try {
    await rejectsWith(badClient.send(new DeleteFunctionCommand({ FunctionName: name })), errorName, 403);
  } finally {
    badClient.destroy();
  }
}

/**
 * The same archive with a comment: different bytes, so a new CodeSha256, without a zip library. A zip
 * without a comment ends with the 22-byte end-of-central-directory record, whose last two bytes are the
 * comment's length.
 */
function withComment(archive, comment) {
  const eocd = archive.length - 22;
  assert.ok(eocd >= 0 && archive.readUInt32LE(eocd) === 0x06054b50, "FLICKER_ZIP must be a zip without a comment");
  const text = Buffer.from(comment, "utf8");
  const out = Buffer.concat([archive, text]);
  out.writeUInt16LE(text.length, archive.length - 2);
  return out;
}

async function main() {
  const sdk = JSON.parse(readFileSync(new URL("./node_modules/@aws-sdk/client-lambda/package.json", import.meta.url)));
  console.log(`sdk-test: @aws-sdk/client-lambda ${sdk.version} against ${endpoint} on Node.js ${process.versions.node}, function ${name}`);
  const steps = Object.entries(STEPS);
  let current;
  try {
    for (const [step, run] of steps) {
      current = step;
      await run();
      console.log(`ok ${step}`);
    }
    console.log(`sdk-test: all ${steps.length} steps ok`);
    return 0;
  } catch (e) {
    console.error(`FAIL ${current}: ${e.name}: ${e.message}`);
    if (e.$metadata) console.error(`  HTTP ${e.$metadata.httpStatusCode}, request id ${e.$metadata.requestId}`);
    if (e.stack) console.error(e.stack);
    // Leave nothing behind on a platform that keeps running (a run by hand); a failure here changes nothing.
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name })).catch(() => {});
    return 1;
  } finally {
    lambda.destroy();
  }
}

process.exitCode = await main();

// Drives the cmr gateway over plain gRPC from Node.js, with nothing generated ahead of time:
// the protos are loaded at run time. It plays the seed's cross-model scenario (an offer of
// mysql, consumed and related to by mediawiki in another model), shows an error path, and
// prints one JSON summary.
//
//   node scenario.mjs <gateway host:port> <admin password> <protos dir> <charms dir>
//
// On a gRPC error it prints `ERROR <code name> <details>` to stderr and exits 1.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const DEADLINE_MS = 15_000;

// The gateway's services a user calls; every method name is unique among them.
const SERVICES = ["SessionService", "UserService", "ModelService", "CrossModelService"];

// `grpc.status` maps code names to numbers; errors carry the number.
const CODE_NAMES = Object.fromEntries(
  Object.entries(grpc.status).map(([name, code]) => [code, name]),
);

class ScenarioError extends Error {}

function usage() {
  process.stderr.write(
    "usage: node scenario.mjs <gateway host:port> <admin password> <protos dir> <charms dir>\n",
  );
  process.exit(2);
}

function loadGateway(protosDir, address) {
  const definition = protoLoader.loadSync("cmr/gateway/v1/gateway.proto", {
    includeDirs: [protosDir],
    keepCase: true, // fields keep their proto names: metadata_yaml, total_connected_count, ...
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const v1 = grpc.loadPackageDefinition(definition).cmr.gateway.v1;
  const credentials = grpc.credentials.createInsecure();
  const channel = new grpc.Channel(address, credentials, {});
  // One client per service, all over one channel; `clients[method]` is the one that has it.
  const clients = {};
  for (const name of SERVICES) {
    const client = new v1[name](address, credentials, { channelOverride: channel });
    for (const method of Object.keys(v1[name].service)) clients[method] = client;
  }
  return { clients, close: () => channel.close() };
}

// One unary call as a promise; `metadata` carries the session token once there is one.
function call(gateway, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + DEADLINE_MS);
    gateway.clients[method][method](request, metadata, { deadline }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

async function scenario(gateway, password, charmsDir) {
  const login = await call(gateway, "Login", { user: "admin", password });
  const auth = new grpc.Metadata();
  auth.set("authorization", `Bearer ${login.token}`);
  const rpc = (method, request) => call(gateway, method, request, auth);
  const charm = (name) => readFileSync(join(charmsDir, name, "metadata.yaml"), "utf8");

  await rpc("AddModel", { name: "node-offer" });
  await rpc("AddModel", { name: "node-consume" });
  await rpc("Deploy", { model: "node-offer", metadata_yaml: charm("mysql") });
  await rpc("Offer", { model: "node-offer", application: "mysql", endpoints: ["db"] });
  await rpc("Deploy", { model: "node-consume", metadata_yaml: charm("mediawiki") });
  await rpc("Consume", { model: "node-consume", url: "admin/node-offer.mysql" });
  await rpc("AddRelation", { model: "node-consume", a: "mediawiki", b: "mysql" });

  // The error path: an offer that does not exist is NOT_FOUND, with a message to show as is.
  let notFound;
  try {
    await rpc("Consume", { model: "node-consume", url: "admin/node-offer.nope" });
  } catch (err) {
    if (err.code !== grpc.status.NOT_FOUND) throw err;
    notFound = err.details;
  }
  if (notFound === undefined) {
    throw new ScenarioError("consuming admin/node-offer.nope succeeded; expected NOT_FOUND");
  }

  const consumer = await rpc("GetStatus", { model: "node-consume" });
  const offerer = await rpc("GetStatus", { model: "node-offer" });
  return {
    saas: consumer.saas.map((s) => ({
      name: s.name,
      url: s.url,
      status: s.application_status?.current ?? "",
    })),
    relations: consumer.relations.map((r) => ({ key: r.key, status: r.status })),
    offers: offerer.offers.map((o) => ({
      name: o.name,
      total_connected_count: o.total_connected_count,
      active_connected_count: o.active_connected_count,
    })),
    not_found: notFound,
  };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 4) usage();
  const [address, password, protosDir, charmsDir] = args;
  let gateway;
  try {
    gateway = loadGateway(protosDir, address);
    const summary = await scenario(gateway, password, charmsDir);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } catch (err) {
    if (typeof err?.code === "number" && err.code in CODE_NAMES) {
      process.stderr.write(`ERROR ${CODE_NAMES[err.code]} ${err.details}\n`);
    } else {
      process.stderr.write(`ERROR ${err?.message ?? err}\n`);
    }
    process.exitCode = 1;
  } finally {
    gateway?.close();
  }
}

await main();

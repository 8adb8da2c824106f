// ethers and viem against a live devnet's Ethereum JSON-RPC, as a dapp drives it (tests/test_js_clients.py runs
// this and checks what it prints). Usage: node clients.mjs <base URL> <funded private key>
// Prints one JSON object; a step that throws prints {"failed": step, "error": message} and exits 1.
import { ethers } from "ethers";
import { createPublicClient, createWalletClient, http, webSocket } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const [base, key] = process.argv.slice(2);
const rpc = `${base}/rpc/eth`;
const ws = rpc.replace(/^http/, "ws");
const out = {};
let step = "start";

function within(ms, promise, what) {
  return Promise.race([promise, new Promise((_, no) => setTimeout(() => no(new Error(`no ${what} within ${ms} ms`)), ms))]);
}

// viem names a refusal by the error class it matched the node's message to
function viemCause(e) {
  let name = null;
  e.walk?.((x) => {
    if (x.name !== "TransactionExecutionError" && x.name !== "CallExecutionError" && x.name !== "EstimateGasExecutionError") {
      name = name ?? x.name;
    }
    return false;
  });
  return name ?? e.name;
}

try {
  step = "ethers: network";
  const provider = new ethers.JsonRpcProvider(rpc, undefined, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  const network = await provider.getNetwork();
  out.chain_id = Number(network.chainId);
  const wallet = new ethers.Wallet(key, provider);
  const bob = ethers.Wallet.createRandom().address;

  step = "ethers: transfer";
  const sent = await wallet.sendTransaction({ to: bob, value: ethers.parseEther("0.5") });
  const receipt = await within(20000, sent.wait(), "receipt");
  out.ethers_transfer = {
    status: receipt.status,
    hash_matches: receipt.hash === sent.hash,
    bob_wei: (await provider.getBalance(bob)).toString(),
    nonce_after: await provider.getTransactionCount(wallet.address, "latest"),
    sent_nonce: sent.nonce,
  };

  step = "ethers: refusals";
  const refused = {};
  try {
    await wallet.sendTransaction({ to: bob, value: 1n, nonce: sent.nonce });
  } catch (e) {
    refused.reused_nonce = e.code;
  }
  try {
    await ethers.Wallet.createRandom().connect(provider).sendTransaction({ to: bob, value: 1n, gasLimit: 21000n });
  } catch (e) {
    refused.no_funds = e.code;
  }
  out.ethers_refusals = refused;

  step = "ethers: websocket";
  const socket = new ethers.WebSocketProvider(ws);
  const pending = new Promise((yes) => socket.on("pending", (hash) => yes(hash)));
  const block = new Promise((yes) => socket.on("block", (n) => yes(n)));
  await new Promise((r) => setTimeout(r, 300)); // the subscriptions are made when the socket's first request answers
  const second = await wallet.sendTransaction({ to: bob, value: 1n });
  const seen = await within(20000, pending, "pending transaction");
  const number = await within(20000, block, "block");
  out.ethers_websocket = { pending_hash_matches: seen === second.hash, block_number: number };
  await socket.destroy();
  await within(20000, second.wait(), "receipt");

  step = "viem: transfer";
  const account = privateKeyToAccount(key);
  const chain = {
    id: out.chain_id,
    name: "n-VM devnet",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc], webSocket: [ws] } },
  };
  const client = createPublicClient({ chain, transport: http(), pollingInterval: 100 });
  const signer = createWalletClient({ account, chain, transport: http() });
  const hash = await signer.sendTransaction({ to: bob, value: 10n ** 9n });
  const r = await within(20000, client.waitForTransactionReceipt({ hash, pollingInterval: 100 }), "receipt");
  out.viem_transfer = { status: r.status, block: Number(r.blockNumber), gas_used: Number(r.gasUsed) };

  step = "viem: refusals";
  const viemRefused = {};
  try {
    await signer.sendTransaction({ to: bob, value: 1n, nonce: 0 });
  } catch (e) {
    viemRefused.reused_nonce = viemCause(e);
  }
  try {
    await signer.sendTransaction({ to: bob, value: 10n ** 40n, gas: 21000n });
  } catch (e) {
    viemRefused.too_much = viemCause(e);
  }
  out.viem_refusals = viemRefused;

  step = "viem: websocket";
  const live = createPublicClient({ chain, transport: webSocket(ws) });
  const heads = new Promise((yes) => {
    const stop = live.watchBlockNumber({ onBlockNumber: (n) => (stop(), yes(Number(n))), emitOnBegin: false });
  });
  const arrivals = new Promise((yes) => {
    const stop = live.watchPendingTransactions({ onTransactions: (hashes) => (stop(), yes(hashes)) });
  });
  await new Promise((res) => setTimeout(res, 300));
  const third = await signer.sendTransaction({ to: bob, value: 1n });
  out.viem_websocket = {
    pending: (await within(20000, arrivals, "pending transactions")).includes(third),
    block: await within(20000, heads, "block"),
  };
  await live.transport.getRpcClient?.().then((c) => c.close()).catch(() => {});
  console.log(JSON.stringify(out));
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ ...out, failed: step, error: String(e?.shortMessage ?? e?.message ?? e) }));
  process.exit(1);
}

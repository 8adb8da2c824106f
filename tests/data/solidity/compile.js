// Reproduces Token.json from Token.sol: `npm install solc@0.8.26 && node compile.js` (solc from npm).
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const source = fs.readFileSync(path.join(__dirname, "Token.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "Token.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "shanghai",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) if (e.severity === "error") throw new Error(e.formattedMessage);
const c = out.contracts["Token.sol"].Token;
const artifact = {
  compiler: "solc " + solc.version(),
  settings: input.settings,
  abi: c.abi,
  bytecode: "0x" + c.evm.bytecode.object,
  deployedBytecode: "0x" + c.evm.deployedBytecode.object,
};
fs.writeFileSync(path.join(__dirname, "Token.json"), JSON.stringify(artifact, null, 1) + "\n");
console.log(artifact.compiler, artifact.bytecode.length / 2 - 1, "bytes");

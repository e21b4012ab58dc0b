// The request the form sent, as curl and as Python SDK code, ready to copy. Neither carries the key:
// both read it from $VIDGATE_API_KEY, as the vidgate CLI does.

const shellQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

// A Python literal of a JSON value (nested `extra` included): True/False/None, Python spacing.
function pyValue(value) {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (Array.isArray(value)) return `[${value.map(pyValue).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${pyValue(item)}`);
    return `{${items.join(", ")}}`;
  }
  return JSON.stringify(value);
}

// `hasLocal`: some images are local files, whose data: URIs are far too long for a command line;
// the body then goes in var/request.json, which the page offers to save.
export function curlSnippet(origin, path, body, hasLocal) {
  const data = hasLocal ? "--data-binary @var/request.json" : `-d ${shellQuote(JSON.stringify(body))}`;
  return [
    `curl -s -X POST ${shellQuote(origin + path)} \\`,
    `  -H "Authorization: Bearer $VIDGATE_API_KEY" -H 'Content-Type: application/json' \\`,
    `  ${data}`,
  ].join("\n");
}

// `references`: each image as the SDK takes it; a local file by its name (the SDK turns local paths
// into data: URIs), so the snippet names the files, not their bytes.
export function pythonSnippet(origin, body, references) {
  const options = Object.entries(body)
    .filter(([name]) => !["images", "prompt"].includes(name))
    .map(([name, value]) => `        ${name}=${pyValue(value)},`);
  return [
    "import os",
    "from vidgate.client import Client",
    "",
    `with Client(${JSON.stringify(origin)}, os.environ["VIDGATE_API_KEY"]) as client:`,
    "    task_id = client.submit(",
    `        [${references.map((reference) => JSON.stringify(reference)).join(", ")}],`,
    `        ${JSON.stringify(body.prompt)},`,
    ...options,
    "    )",
    "    result = client.wait(task_id)",
    '    client.download(result, "var/out.mp4")',
  ].join("\n");
}

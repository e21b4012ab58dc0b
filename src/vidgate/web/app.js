// The vidgate playground: plain JavaScript, no framework, no build step, no third-party origin.
// Everything it does goes through the public API with the user's key, as any client would.
import { readTaskEvents, request } from "./api.js";
import { curlSnippet, pythonSnippet } from "./snippets.js";
import { taskItem } from "./tasks.js";

const SUBMIT_PATH = "/v3/async/vidu-q2-pro-img2video";
const KEY_STORAGE = "vidgate.playground.apiKey";
const POLL_MS = 1000;
const TERMINAL = ["TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"];
const ACCEPTED_TYPES = ["image/png", "image/jpeg", "image/webp"];
// The field a server error names (`metadata.field`) -> the id of the control it is shown beside.
const CONTROLS = {
  api_key: "api-key",
  images: "image-files",
  prompt: "prompt",
  duration: "duration",
  resolution: "resolution",
  movement_amplitude: "movement-amplitude",
  seed: "seed",
  voice_id: "voice",
  "extra.engine": "engine",
};
const ERROR_SLOTS = {
  api_key: "api-key-error",
  images: "images-error",
  prompt: "prompt-error",
  duration: "duration-error",
  resolution: "resolution-error",
  movement_amplitude: "movement-amplitude-error",
  seed: "seed-error",
  voice_id: "voice-error",
  "extra.engine": "engine-error",
};

const $ = (id) => document.getElementById(id);
const images = []; // {name, uri, local}: local files as data: URIs, or URLs as typed
let following = null; // the AbortController of the task being watched
let currentTaskId = null;

// ---- the key: in memory, and in localStorage only when "Remember" is ticked ----
const apiKey = () => $("api-key").value.trim();

function rememberKey() {
  if ($("remember").checked && apiKey()) {
    localStorage.setItem(KEY_STORAGE, apiKey());
  } else {
    localStorage.removeItem(KEY_STORAGE);
  }
}

const api = (method, path, body) => request(apiKey(), method, path, body);

// ---- errors shown beside the field they name ----
function fieldOf(problem) {
  if (problem.reason === "MISSING_API_KEY" || problem.reason === "INVALID_API_KEY") return "api_key";
  const field = problem.metadata.field;
  if (typeof field === "string") {
    if (field === "images" || field.startsWith("images[")) return "images";
    if (field in ERROR_SLOTS) return field;
  }
  // Image checks name the image by index; a body too large is, in practice, its images.
  if ("index" in problem.metadata || problem.reason.includes("IMAGE") || problem.reason === "REQUEST_BODY_TOO_LARGE") {
    return "images";
  }
  return null;
}

function clearErrors() {
  for (const slot of Object.values(ERROR_SLOTS)) $(slot).textContent = "";
  for (const control of Object.values(CONTROLS)) $(control).removeAttribute("aria-invalid");
  $("form-error").textContent = "";
}

function showError(field, message) {
  if (field && field in ERROR_SLOTS) {
    $(ERROR_SLOTS[field]).textContent = message;
    $(CONTROLS[field]).setAttribute("aria-invalid", "true");
  } else {
    $("form-error").textContent = message;
  }
}

function showProblem(problem) {
  const words = problem.message || problem.reason;
  showError(fieldOf(problem), problem.code ? `${words} (${problem.reason})` : words);
}

// ---- images: file picker, drag and drop, paste, or a URL ----
function addFile(file) {
  if (!ACCEPTED_TYPES.includes(file.type)) {
    showError("images", `${file.name || "That file"} is not a PNG, JPEG or WebP image.`);
    return;
  }
  const reader = new FileReader();
  reader.addEventListener("load", () => {
    images.push({ name: file.name || "pasted.png", uri: String(reader.result), local: true });
    renderImages();
  });
  reader.readAsDataURL(file);
}

function addUrl() {
  const url = $("image-url").value.trim();
  if (!/^https?:\/\//i.test(url)) {
    showError("images", "An image URL starts with http:// or https://.");
    return;
  }
  images.push({ name: url, uri: url, local: false });
  $("image-url").value = "";
  renderImages();
}

function renderImages() {
  const list = $("image-list");
  list.replaceChildren();
  images.forEach((image, index) => {
    const item = document.createElement("li");
    if (image.local) {
      const preview = document.createElement("img");
      preview.src = image.uri;
      preview.alt = image.name;
      item.append(preview);
    }
    const name = document.createElement("span");
    name.textContent = `${index + 1}. ${image.name}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove image ${index + 1}`);
    remove.addEventListener("click", () => {
      images.splice(index, 1);
      renderImages();
    });
    item.append(name, remove);
    list.append(item);
  });
}

// ---- the request, as the form says it ----
function requestBody() {
  const body = { images: images.map((image) => image.uri), prompt: $("prompt").value };
  const duration = $("duration").value.trim();
  if (duration !== "") body.duration = Number(duration);
  body.resolution = $("resolution").value;
  body.movement_amplitude = $("movement-amplitude").value;
  const seed = $("seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  body.bgm = $("bgm").checked;
  body.audio = $("audio").checked;
  if ($("voice").value) body.voice_id = $("voice").value;
  body.watermark = $("watermark").checked;
  body.off_peak = $("off-peak").checked;
  if (!$("engine-field").hidden && $("engine").value) body.extra = { engine: $("engine").value };
  return body;
}

function checkLocally(body) {
  let fine = true;
  if (!apiKey()) {
    showError("api_key", "Enter your API key.");
    fine = false;
  }
  if (body.images.length === 0) {
    showError("images", "Add at least one image.");
    fine = false;
  }
  if (!body.prompt.trim()) {
    showError("prompt", "Write a prompt: what the video shows, and how the camera moves.");
    fine = false;
  }
  return fine;
}

async function generate(event) {
  event.preventDefault();
  clearErrors();
  rememberKey();
  const body = requestBody();
  if (!checkLocally(body)) return;
  $("generate").disabled = true;
  let submitted;
  try {
    submitted = await api("POST", SUBMIT_PATH, body);
  } catch (problem) {
    showProblem(problem);
    return;
  } finally {
    $("generate").disabled = false;
  }
  showSnippets(body);
  startRun(submitted.task_id);
}

// ---- following a task: the task-events stream, else polling task-result ----
function startRun(taskId) {
  if (following) following.abort();
  following = new AbortController();
  currentTaskId = taskId;
  $("run").hidden = false;
  $("outcome").hidden = true;
  $("snippets").hidden = false;
  $("task-id").textContent = `Task ${taskId}`;
  $("cancel").hidden = false;
  $("cancel").disabled = false;
  showProgress({ task: { task_id: taskId, status: "TASK_STATUS_QUEUED", progress_percent: 0, eta: 0, reason: "" } });
  $("run").scrollIntoView({ block: "start" });
  follow(taskId, following.signal).catch((problem) => {
    if (!following.signal.aborted) $("task-status").textContent = problem.message;
  });
}

async function follow(taskId, signal) {
  try {
    const finished = await followEvents(taskId, signal);
    if (finished || signal.aborted) return;
  } catch {
    if (signal.aborted) return;
  }
  await followByPolling(taskId, signal); // no stream here (another server, a proxy): ask every second
}

const followEvents = (taskId, signal) =>
  readTaskEvents(apiKey(), taskId, signal, (document_) => TERMINAL.includes(document_.task.status), showProgress);

async function followByPolling(taskId, signal) {
  while (!signal.aborted) {
    const document_ = await api("GET", `/v3/async/task-result?task_id=${encodeURIComponent(taskId)}`);
    if (signal.aborted) return;
    showProgress(document_);
    if (TERMINAL.includes(document_.task.status)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const STATUS_WORDS = {
  TASK_STATUS_QUEUED: "Queued",
  TASK_STATUS_PROCESSING: "Rendering",
  TASK_STATUS_SUCCEED: "Done",
  TASK_STATUS_FAILED: "Failed",
};

function showProgress(document_) {
  const task = document_.task;
  const percent = Math.max(0, Math.min(100, Number(task.progress_percent) || 0));
  $("progress").value = percent;
  $("progress").setAttribute("aria-valuetext", `${percent}%`);
  let words = `${STATUS_WORDS[task.status] || task.status} · ${percent}%`;
  if (!TERMINAL.includes(task.status) && Number(task.eta) > 0) words += ` · about ${Math.round(task.eta)} s left`;
  if (task.status === "TASK_STATUS_FAILED") words += ` · ${task.reason || "no reason given"}`;
  $("task-status").textContent = words;
  if (TERMINAL.includes(task.status)) {
    $("cancel").hidden = true;
    if (task.status === "TASK_STATUS_SUCCEED") showOutcome(document_);
    refreshTasks();
  }
}

function showOutcome(document_) {
  const video = document_.videos && document_.videos[0];
  if (!video) return;
  $("outcome").hidden = false;
  $("video").src = video.video_url;
  $("download").href = video.video_url;
  $("download").setAttribute("download", `${document_.task.task_id}.mp4`);
  $("seed-used").textContent = (document_.extra && document_.extra.seed) || "";
}

async function cancel() {
  if (!currentTaskId) return;
  $("cancel").disabled = true;
  try {
    showProgress(await api("POST", `/v3/async/task-cancel?task_id=${encodeURIComponent(currentTaskId)}`));
  } catch (problem) {
    $("cancel").disabled = false;
    $("task-status").textContent = problem.message;
  }
}

function showSnippets(body) {
  const origin = window.location.origin;
  const hasLocal = images.some((image) => image.local);
  $("curl-snippet").value = curlSnippet(origin, SUBMIT_PATH, body, hasLocal);
  const link = $("request-json");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.hidden = !hasLocal;
  if (hasLocal) link.href = URL.createObjectURL(new Blob([JSON.stringify(body)], { type: "application/json" }));
  const references = images.map((image) => (image.local ? image.name : image.uri));
  $("python-snippet").value = pythonSnippet(origin, body, references);
}

async function copyFrom(id, button) {
  const text = $(id).value;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    $(id).select(); // no clipboard permission (plain http on another host): select for Ctrl+C
    return;
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = label), 1500);
}

// ---- voices, engines, recent tasks ----
async function loadVoices() {
  let catalogue;
  try {
    catalogue = await api("GET", "/v3/voices");
  } catch {
    return; // a server without the catalogue: the engine default voice only
  }
  const select = $("voice");
  for (const voice of catalogue.voices) {
    const option = document.createElement("option");
    option.value = voice.voice_id;
    option.textContent = `${voice.voice_id} (${voice.language_name}, ${voice.gender})`;
    select.append(option);
  }
}

async function loadEngines() {
  let listing;
  try {
    listing = await api("GET", "/v3/engines");
  } catch {
    $("engine-field").hidden = true; // no engines route (404), or not allowed yet: one engine
    return;
  }
  const engines = (listing && listing.engines) || [];
  $("engine-field").hidden = engines.length < 2;
  const select = $("engine");
  select.replaceChildren();
  for (const engine of engines) {
    const option = document.createElement("option");
    option.value = engine.name;
    option.textContent = engine.served === false ? `${engine.name} (no worker now)` : engine.name;
    if (engine.description) option.title = engine.description;
    option.selected = engine.name === listing.default;
    select.append(option);
  }
}

async function refreshTasks() {
  const list = $("tasks");
  if (!apiKey()) {
    list.replaceChildren();
    $("tasks-empty").textContent = "Enter your API key to see your tasks.";
    $("tasks-empty").hidden = false;
    return;
  }
  let page;
  try {
    page = await api("GET", "/v3/async/tasks?limit=10");
  } catch (problem) {
    list.replaceChildren();
    $("tasks-empty").textContent = `Your tasks could not be listed: ${problem.message}`;
    $("tasks-empty").hidden = false;
    return;
  }
  list.replaceChildren(...page.tasks.map((document_) => taskItem(document_, openTask)));
  $("tasks-empty").textContent = "No tasks yet.";
  $("tasks-empty").hidden = page.tasks.length > 0;
}


async function openTask(taskId) {
  startRun(taskId);
  $("snippets").hidden = true; // the request of an older task is not known here
}

// ---- wiring ----
function init() {
  const stored = localStorage.getItem(KEY_STORAGE);
  if (stored) {
    $("api-key").value = stored;
    $("remember").checked = true;
  }
  $("remember").addEventListener("change", rememberKey);
  $("api-key").addEventListener("change", () => {
    rememberKey();
    loadEngines();
    refreshTasks();
  });
  $("form").addEventListener("submit", generate);
  $("image-files").addEventListener("change", (event) => {
    clearErrors();
    for (const file of event.target.files) addFile(file);
    event.target.value = ""; // choosing the same file again adds it again
  });
  $("add-url").addEventListener("click", () => {
    clearErrors();
    addUrl();
  });
  $("image-url").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault(); // Enter here adds the URL rather than submitting the form
      clearErrors();
      addUrl();
    }
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    clearErrors();
    for (const file of event.dataTransfer.files) addFile(file);
  });
  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (files.length === 0) return; // text pasted into a field: leave it to the field
    event.preventDefault();
    clearErrors();
    for (const file of files) addFile(file);
  });
  $("cancel").addEventListener("click", cancel);
  $("reuse-seed").addEventListener("click", () => {
    $("seed").value = $("seed-used").textContent;
    $("seed").focus();
  });
  $("copy-curl").addEventListener("click", (event) => copyFrom("curl-snippet", event.target));
  $("copy-python").addEventListener("click", (event) => copyFrom("python-snippet", event.target));
  $("refresh-tasks").addEventListener("click", refreshTasks);
  loadVoices();
  if (apiKey()) {
    loadEngines();
    refreshTasks();
  }
}

init();

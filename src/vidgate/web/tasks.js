// One line of the "Recent tasks" list: status, id, when, the reason of a failure, and a button to
// open the video (or follow a task still running). Built with textContent: nothing is parsed as HTML.

const isTerminal = (task) => ["TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"].includes(task.status);

export function taskItem(document_, openTask) {
  const task = document_.task;
  const item = document.createElement("li");
  const status = document.createElement("span");
  const short = task.status.replace("TASK_STATUS_", "");
  status.className = `status-${short}`;
  status.textContent = short;
  const id = document.createElement("span");
  id.className = "mono";
  id.textContent = task.task_id;
  const when = document.createElement("span");
  const submitted = Number(document_.extra && document_.extra.debug_info && document_.extra.debug_info.submit_time_ms);
  when.textContent = submitted ? new Date(submitted).toLocaleString() : "";
  item.append(status, id, when);
  if (task.status === "TASK_STATUS_FAILED" && task.reason) {
    const reason = document.createElement("span");
    reason.textContent = task.reason;
    item.append(reason);
  }
  if (task.status === "TASK_STATUS_SUCCEED" || !isTerminal(task)) {
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = task.status === "TASK_STATUS_SUCCEED" ? "Open video" : "Follow";
    open.setAttribute("aria-label", `${open.textContent} of task ${task.task_id}`);
    open.addEventListener("click", () => openTask(task.task_id));
    item.append(open);
  }
  return item;
}

"""Offline by default, and the parser integration survives a checkpoint round trip in a fresh process.

Both run real Python processes: the first blocks every socket before anything is imported, configures itself as the
suite's own commands and jobs do (``yolov12.offline.configure_job_process``), then builds, trains one epoch,
validates, predicts and exports a model; the second starts from plain ``ultralytics`` (no ``import yolov12``), loads
the checkpoint, rebuilds the model from the YAML stored in it and checks the outputs agree.
"""

import json
import subprocess
import textwrap

import pytest

from tiny_data import make_detect_dataset

BLOCK_SOCKETS = """
import socket
ATTEMPTS = []
def _blocked(*args, **kwargs):
    ATTEMPTS.append(repr(args)[:200])
    raise OSError("network access blocked by the offline test")
socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
"""

TRAIN = """
import json, sys
from yolov12.offline import configure_job_process
configure_job_process()                           # what every yolov12 command and workflow job does first
import yolov12
model = yolov12.build("yolov12", "n", nc=2, area=2, pe_kernel=5)
model.train(data=sys.argv[1], epochs=1, imgsz=64, batch=2, workers=0, device="cpu", project=sys.argv[2],
            name="run", plots=True, amp=True, verbose=False)
metrics = model.val(data=sys.argv[1], imgsz=64, batch=2, workers=0, device="cpu", plots=True)
import glob
pred = model.predict(sorted(glob.glob(sys.argv[1].replace("data.yaml", "images/val/*.png"))), imgsz=64, conf=0.0)
onnx = model.export(format="onnx", imgsz=64)
print("RESULT " + json.dumps({"attempts": ATTEMPTS, "best": str(model.trainer.best), "onnx": str(onnx),
                              "map50": float(metrics.box.map50),
                              "predicted": len(pred)}))
"""

RELOAD = """
import json, sys, torch
from ultralytics import YOLO                      # a user who never imports yolov12 themselves
from ultralytics.nn.tasks import DetectionModel
model = YOLO(sys.argv[1])                         # unpickling imports yolov12, which registers its modules
rebuilt = DetectionModel(model.model.yaml, verbose=False)   # rebuild from the YAML stored in the checkpoint
rebuilt.load_state_dict(model.model.float().state_dict(), strict=True)
x = torch.rand(1, 3, 64, 64)
a = model.model.float().eval()(x)[0]
b = rebuilt.eval()(x)[0]
areas = sorted({m.area for m in rebuilt.modules() if type(m).__name__ == "AreaAttention"})
print("RESULT " + json.dumps({"diff": float((a - b).abs().max()), "areas": areas,
                              "knobs": model.model.yaml["knobs"]}))
"""


def run(python_env, code, *args, timeout=600):
    env, python = python_env
    proc = subprocess.run([python, "-c", textwrap.dedent(code), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(line[len("RESULT "):])


@pytest.mark.slow
def test_offline_train_val_export_then_reload_in_fresh_process(tmp_path, python_env):
    data = make_detect_dataset(tmp_path / "data")
    result = run(python_env, BLOCK_SOCKETS + TRAIN, data, tmp_path / "runs")
    assert result["attempts"] == [], result["attempts"]
    assert result["onnx"].endswith(".onnx") and result["predicted"] == 2
    reloaded = run(python_env, RELOAD, result["best"])
    assert reloaded["diff"] <= 1e-5
    assert reloaded["areas"] == [1, 2] and reloaded["knobs"]["pe_kernel"] == 5


def test_socket_guard_sees_ultralytics_online_probe(python_env):
    """Control: with the offline default overridden, Ultralytics' import-time probe is caught by the guard."""
    env, python = python_env
    env = {**env, "YOLO_OFFLINE": "0"}
    code = BLOCK_SOCKETS + ("\nfrom yolov12.offline import configure_job_process\nconfigure_job_process()\n"
                            "import yolov12\nyolov12.build('yolov12', 'n')\nimport json\n"
                            "print('RESULT ' + json.dumps({'attempts': ATTEMPTS}))\n")
    result = run((env, python), code)
    assert result["attempts"], "the guard saw no network attempt: it would not catch a regression"

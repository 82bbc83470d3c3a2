"""COCO 2017 preparation on a tiny fake COCO served by a local HTTP server (127.0.0.1 only, with Range support)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

import yolov12  # noqa: F401  (offline defaults before Ultralytics loads)
from yolov12.data import coco
from yolov12.data.coco import CocoError, coco80_to_91, coco91_to_80, download, prepare_coco

# ------------------------------------------------------------------------------------------------ fake COCO content
SIZES = {"train2017": (64, 48), "val2017": (48, 64)}  # (width, height): non-square, so x and y scale differently
TRAIN_IDS, VAL_IDS = (1, 2, 3, 4), (101, 102, 103)  # 103 has no annotation: a background image
CATEGORIES = [  # non-contiguous ids, as in COCO: 3 -> class 2, 90 -> class 79
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 90, "name": "toothbrush", "supercategory": "indoor"},
]
KEYPOINT_NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                  "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                  "right_knee", "left_ankle", "right_ankle"]


def file_name(image_id: int) -> str:
    return f"{image_id:012d}.jpg"


def rect(x, y, w, h):  # a COCO polygon (x1 y1 x2 y2 ...) for a rectangle
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def keypoints(x, y, labelled: int):
    values = []
    for k in range(17):
        values += [x + k % 4, y + k, 2] if k < labelled else [0, 0, 0]
    return values


def annotation(ann_id, image_id, cat, bbox, segmentation=None, iscrowd=0, kpts=None):
    ann = {"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": bbox, "area": bbox[2] * bbox[3],
           "iscrowd": iscrowd, "segmentation": segmentation if segmentation is not None else [rect(*bbox)]}
    if kpts is not None:
        ann |= {"keypoints": kpts, "num_keypoints": sum(1 for v in kpts[2::3] if v)}
    return ann


def image_entries(split: str, ids) -> list[dict]:
    w, h = SIZES[split]
    return [{"id": i, "file_name": file_name(i), "width": w, "height": h} for i in ids]


def instances(split: str) -> dict:
    if split == "val2017":
        anns = [
            annotation(1, 101, 1, [4, 8, 16, 40]),
            # a toothbrush drawn as two polygons: merged into one segment line
            annotation(2, 101, 90, [24, 4, 20, 20], segmentation=[rect(24, 4, 8, 8), rect(36, 16, 8, 8)]),
            # a crowd region (RLE): skipped everywhere
            annotation(3, 101, 3, [0, 40, 48, 24], segmentation={"counts": [0, 10], "size": [64, 48]}, iscrowd=1),
            annotation(4, 102, 3, [10, 10, 20, 10]),
            annotation(5, 102, 1, [30, 30, 10, 20]),
        ]
    else:
        anns = [annotation(10 + i, image_id, (1, 3, 90, 1)[i], [8, 8, 16, 16]) for i, image_id in enumerate(TRAIN_IDS)]
        anns.append(annotation(20, 1, 90, [30, 20, 10, 10]))
    return {"info": {"description": "fake COCO"}, "licenses": [], "images": image_entries(split, SPLIT_IDS[split]),
            "annotations": anns, "categories": CATEGORIES}


def person_keypoints(split: str) -> dict:
    if split == "val2017":
        anns = [
            annotation(1, 101, 1, [4, 8, 16, 40], kpts=keypoints(6, 10, 5)),
            annotation(5, 102, 1, [30, 30, 10, 20], kpts=keypoints(0, 0, 0)),  # no labelled keypoint: skipped
            annotation(6, 102, 1, [0, 0, 48, 64], kpts=keypoints(1, 1, 3), iscrowd=1),  # crowd: skipped
        ]
    else:
        anns = [annotation(10, 1, 1, [8, 8, 16, 16], kpts=keypoints(9, 9, 17)),
                annotation(13, 4, 1, [8, 8, 16, 16], kpts=keypoints(10, 10, 2))]
    person = {**CATEGORIES[0], "keypoints": KEYPOINT_NAMES, "skeleton": [[16, 14], [14, 12]]}
    return {"info": {}, "licenses": [], "images": image_entries(split, SPLIT_IDS[split]), "annotations": anns,
            "categories": [person]}


SPLIT_IDS = {"train2017": TRAIN_IDS, "val2017": VAL_IDS}
EXPECTED_COUNTS = {"train2017": 4, "val2017": 3, "instances_val2017/images": 3, "instances_val2017/annotations": 5,
                   "person_keypoints_val2017/images": 3}


def jpeg_bytes(split: str, seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", SIZES[split], (seed * 40 % 255, 90, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_archives() -> dict[str, bytes]:
    """The three archive names with the official internal layout, keyed by their path under the base URL."""
    images = {split: zip_bytes({f"{split}/{file_name(i)}": jpeg_bytes(split, i) for i in ids})
              for split, ids in SPLIT_IDS.items()}
    notes = {}
    for split in SPLIT_IDS:
        notes[f"annotations/instances_{split}.json"] = json.dumps(instances(split)).encode()
        notes[f"annotations/person_keypoints_{split}.json"] = json.dumps(person_keypoints(split)).encode()
    return {"zips/train2017.zip": images["train2017"], "zips/val2017.zip": images["val2017"],
            "annotations/annotations_trainval2017.zip": zip_bytes(notes)}


ARCHIVES = make_archives()


def expected_with_checksums() -> dict:
    checks = {}
    for url_path, data in ARCHIVES.items():
        name = url_path.rsplit("/", 1)[1]
        checks |= {f"{name}/size": len(data), f"{name}/md5": hashlib.md5(data).hexdigest()}
    return EXPECTED_COUNTS | checks


def extract_all(root: Path) -> Path:
    """An already-unpacked copy, as a user who downloaded by hand would have."""
    for data in ARCHIVES.values():
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(root)
    return root


# ------------------------------------------------------------------------------------------------ HTTP server
class ArchiveServer:
    """Serves ARCHIVES on 127.0.0.1. Range requests are honoured (206) unless honor_range is off (then 200);
    drop_first sends half of the first response and closes, to test resuming after a dropped connection;
    busy_first answers that many requests 503 (a passing server trouble, retried after a wait)."""

    def __init__(self):
        self.requests: list[tuple[str, str | None, int]] = []  # (path, Range header, status)
        self.honor_range, self.drop_first, self.busy_first = True, False, 0
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                data = ARCHIVES.get(self.path.lstrip("/"))
                wanted = self.headers.get("Range")
                if data is None:
                    return self._reply(404, b"", wanted)
                if state.busy_first:
                    state.busy_first -= 1
                    return self._reply(503, b"", wanted)
                start = int(wanted.split("=")[1].split("-")[0]) if wanted and state.honor_range else 0
                if start >= len(data) > 0:
                    return self._reply(416, b"", wanted, {"Content-Range": f"bytes */{len(data)}"})
                headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
                self._reply(206 if start else 200, data[start:], wanted, headers)

            def _reply(self, status, body, wanted, headers=None):
                state.requests.append((self.path, wanted, status))
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if state.drop_first and status == 200:
                    state.drop_first = False
                    body = body[: len(body) // 2]  # then the connection closes: a short read for the client
                    self.close_connection = True
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def reset(self):
        self.requests.clear()
        self.honor_range, self.drop_first, self.busy_first = True, False, 0


@pytest.fixture(scope="module")
def archive_server():
    server = ArchiveServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(5)


@pytest.fixture
def server(archive_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # never route the local server through a proxy
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    archive_server.reset()
    return archive_server


# ------------------------------------------------------------------------------------------------ helpers
def load_dataset(yaml_path: str, task: str):
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(yaml_path)
    return data, YOLODataset(img_path=data["val"], data=data, task=task, imgsz=64, augment=False)


def labels_by_image(dataset) -> dict[str, dict]:
    return {Path(lb["im_file"]).name: lb for lb in dataset.labels}


# ------------------------------------------------------------------------------------------------ tests
def test_category_mapping_round_trip():
    from ultralytics.data.converter import coco80_to_coco91_class
    from ultralytics.data.utils import YAML
    from ultralytics.utils import ROOT

    ids = coco80_to_91()
    assert len(ids) == 80 and ids[:3] == [1, 2, 3] and ids[-1] == 90 and ids == sorted(ids)
    inverse = coco91_to_80()
    assert len(inverse) == 80 and all(inverse[cat] == cls for cls, cat in enumerate(ids))
    assert 12 not in inverse and 91 not in inverse  # ids COCO 2017 leaves unused
    assert ids == coco80_to_coco91_class()  # agrees with Ultralytics' table used by its COCO JSON export
    names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]
    assert list(coco.COCO80_NAMES) == [names[i] for i in range(80)]


def test_download_prepare_and_load_with_ultralytics(tmp_path, server):
    root = tmp_path / "coco"
    manifest = prepare_coco(root, download=True, base_url=server.url, expected=expected_with_checksums())

    assert sorted(path for path, _, _ in server.requests) == sorted(f"/{p}" for p in ARCHIVES)
    for url_path, data in ARCHIVES.items():  # archives kept, verified, no leftovers
        assert (root / url_path.rsplit("/", 1)[1]).read_bytes() == data
    assert not list(root.glob("*.part")) and not list(root.glob(".*.tmp"))
    out = root / "yolo"
    assert manifest == json.loads((out / "coco.json").read_text())
    assert manifest["ground_truth"] == {
        "instances_val2017": str(root.resolve() / "annotations" / "instances_val2017.json"),
        "person_keypoints_val2017": str(root.resolve() / "annotations" / "person_keypoints_val2017.json"),
    }
    counts = manifest["counts"]
    assert counts["images"] == {"train2017": 4, "val2017": 3}
    assert counts["instances_val2017"]["crowd_skipped"] == 1 and counts["instances_val2017"]["objects"] == 4
    assert counts["person_keypoints_val2017"]["no_keypoints_skipped"] == 1
    assert counts["person_keypoints_val2017"]["crowd_skipped"] == 1
    for task in ("detect", "segment", "pose"):
        assert (out / task / "images" / "val2017").resolve() == (root / "val2017").resolve()
        assert Path(manifest["yaml"][task]).is_absolute()

    # detect: crowd skipped, category 90 -> class 79, 3 -> 2, background image kept as background
    data, ds = load_dataset(manifest["yaml"]["detect"], "detect")
    assert data["nc"] == 80 and data["names"][79] == "toothbrush"
    by_image = labels_by_image(ds)
    assert len(ds.labels) == 3 and by_image[file_name(103)]["cls"].size == 0
    assert sorted(by_image[file_name(101)]["cls"].ravel().tolist()) == [0, 79]
    assert sorted(by_image[file_name(102)]["cls"].ravel().tolist()) == [0, 2]
    person = by_image[file_name(101)]["bboxes"][by_image[file_name(101)]["cls"].ravel() == 0][0]
    assert person.tolist() == pytest.approx([12 / 48, 28 / 64, 16 / 48, 40 / 64], abs=1e-5)  # bbox [4, 8, 16, 40]

    # segment: the two-part toothbrush becomes one polygon holding both parts' corners
    _, ds = load_dataset(manifest["yaml"]["segment"], "segment")
    label = labels_by_image(ds)[file_name(101)]
    assert len(label["segments"]) == 2
    toothbrush = label["segments"][int((label["cls"].ravel() == 79).nonzero()[0][0])]
    assert len(toothbrush) >= 8 and toothbrush[:, 0].max() == pytest.approx(44 / 48, abs=1e-5)

    # pose: one class, only images with a labelled person listed, 17 keypoints with visibility
    data, ds = load_dataset(manifest["yaml"]["pose"], "pose")
    assert data["kpt_shape"] == [17, 3] and data["flip_idx"] == coco.FLIP_IDX and data["names"] == {0: "person"}
    assert [Path(f).name for f in ds.im_files] == [file_name(101)]
    kpts = ds.labels[0]["keypoints"]
    assert kpts.shape == (1, 17, 3) and (kpts[0, :, 2] > 0).sum() == 5
    assert kpts[0, 0, :2].tolist() == pytest.approx([6 / 48, 10 / 64], abs=1e-5)


def test_second_run_redoes_nothing_and_source_change_relabels(tmp_path, server):
    root = tmp_path / "coco"
    first = prepare_coco(root, download=True, base_url=server.url, expected=expected_with_checksums())
    out = root / "yolo"
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    server.reset()

    assert prepare_coco(root, download=True, base_url=server.url, expected=expected_with_checksums()) == first
    assert server.requests == []  # nothing fetched: contents already extracted
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps  # nothing rewritten

    # A changed annotation file is noticed (size/mtime in the label tree's stamp) and only its labels are rebuilt.
    source = root / "annotations" / "instances_val2017.json"
    data = json.loads(source.read_text())
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != 102]
    source.write_text(json.dumps(data))
    manifest = prepare_coco(root, expected=EXPECTED_COUNTS | {"instances_val2017/annotations": 3})
    assert manifest["counts"]["instances_val2017"]["objects"] == 2
    assert not (out / "detect" / "labels" / "val2017" / "000000000102.txt").exists()
    pose_stamp = out / "pose" / "labels" / "train2017" / coco.STAMP_NAME
    assert pose_stamp.stat().st_mtime_ns == stamps[pose_stamp]


def test_resume_sends_range_and_completes(tmp_path, server):
    data = ARCHIVES["zips/val2017.zip"]
    dest = tmp_path / "val2017.zip"
    Path(f"{dest}.part").write_bytes(data[: len(data) // 2])

    download(server.url + "zips/val2017.zip", dest, size=len(data), md5=hashlib.md5(data).hexdigest())
    assert server.requests == [("/zips/val2017.zip", f"bytes={len(data) // 2}-", 206)]
    assert dest.read_bytes() == data and not Path(f"{dest}.part").exists()

    # A .part that already holds every byte (size unknown): the server answers 416 and the file is verified as is.
    server.reset()
    other = tmp_path / "again.zip"
    Path(f"{other}.part").write_bytes(data)
    download(server.url + "zips/val2017.zip", other, md5=hashlib.md5(data).hexdigest())
    assert server.requests == [("/zips/val2017.zip", f"bytes={len(data)}-", 416)] and other.read_bytes() == data


def test_server_ignoring_range_restarts_from_zero(tmp_path, server):
    server.honor_range = False
    data = ARCHIVES["zips/train2017.zip"]
    dest = tmp_path / "train2017.zip"
    Path(f"{dest}.part").write_bytes(b"garbage that must not stay at the front")

    download(server.url + "zips/train2017.zip", dest, size=len(data), md5=hashlib.md5(data).hexdigest())
    assert server.requests == [("/zips/train2017.zip", "bytes=39-", 200)]
    assert dest.read_bytes() == data


def test_busy_server_is_retried_after_a_wait(tmp_path, server, caplog):
    server.busy_first = 1
    data = ARCHIVES["zips/val2017.zip"]
    dest = tmp_path / "val2017.zip"
    with caplog.at_level(logging.INFO, logger="yolov12"):
        download(server.url + "zips/val2017.zip", dest, size=len(data), md5=hashlib.md5(data).hexdigest())
    assert [status for _, _, status in server.requests] == [503, 200] and dest.read_bytes() == data
    assert "val2017.zip: HTTP Error 503: Service Unavailable; retrying (1/4)" in caplog.text


def test_dropped_connection_is_resumed(tmp_path, server):
    server.drop_first = True
    data = ARCHIVES["annotations/annotations_trainval2017.zip"]
    dest = tmp_path / "annotations_trainval2017.zip"

    download(server.url + "annotations/annotations_trainval2017.zip", dest, md5=hashlib.md5(data).hexdigest())
    assert [status for _, _, status in server.requests] == [200, 206]
    assert server.requests[1][1] == f"bytes={len(data) // 2}-"
    assert dest.read_bytes() == data


def test_interrupted_extraction_is_redone(tmp_path, server):
    root = extract_all(tmp_path / "coco")
    for image in sorted((root / "val2017").iterdir())[1:]:
        image.unlink()  # as if an earlier extraction stopped after the first image
    dead = root / ".val2017.zip.999999999.abc.extract.tmp"  # temp dir of a killed run (no such pid)
    (dead / "val2017").mkdir(parents=True)

    manifest = prepare_coco(root, download=True, base_url=server.url, expected=expected_with_checksums())
    assert [path for path, _, _ in server.requests] == ["/zips/val2017.zip"]  # only the incomplete part is fetched
    assert manifest["counts"]["images"]["val2017"] == 3 and not dead.exists()


def test_checksum_and_size_mismatch_raise_clear_errors(tmp_path, server):
    data = ARCHIVES["zips/val2017.zip"]
    dest = tmp_path / "val2017.zip"
    keep = tmp_path / "unrelated.txt"
    keep.write_text("must survive")
    actual = hashlib.md5(data).hexdigest()

    with pytest.raises(CocoError) as err:
        download(server.url + "zips/val2017.zip", dest, size=len(data), md5="0" * 32, progress=False)
    message = str(err.value)
    assert "val2017.zip" in message and "MD5" in message and "0" * 32 in message and actual in message
    assert not dest.exists() and Path(f"{dest}.part").read_bytes() == data and keep.exists()

    Path(f"{dest}.part").unlink()
    with pytest.raises(CocoError, match=rf"size mismatch: expected {len(data) + 7} bytes, found {len(data)} bytes"):
        download(server.url + "zips/val2017.zip", dest, size=len(data) + 7, progress=False)
    assert not dest.exists()

    with pytest.raises(CocoError, match="HTTP 404"):
        download(server.url + "zips/missing.zip", tmp_path / "missing.zip", progress=False)


def test_validation_names_missing_and_wrong_parts(tmp_path):
    with pytest.raises(CocoError, match="does not exist"):
        prepare_coco(tmp_path / "nowhere", expected=EXPECTED_COUNTS)

    root = extract_all(tmp_path / "coco")
    (root / "annotations" / "person_keypoints_train2017.json").unlink()
    for image in (root / "val2017").iterdir():
        image.rename(tmp_path / image.name)  # val2017 left empty
    with pytest.raises(CocoError) as err:
        prepare_coco(root, expected=EXPECTED_COUNTS)
    message = str(err.value)
    assert f"{root / 'val2017'} has 0 .jpg images, expected 3 .jpg images" in message
    assert f"missing annotation file {root / 'annotations' / 'person_keypoints_train2017.json'}" in message
    assert f"yolov12 data coco --root {root} --download" in message and "http://images.cocodataset.org/zips/" in message

    (root / "val2017").rmdir()
    with pytest.raises(CocoError, match=f"missing image directory {root / 'val2017'}"):
        prepare_coco(root, expected=EXPECTED_COUNTS)


def test_validation_checks_counts(tmp_path):
    root = extract_all(tmp_path / "coco")
    with pytest.raises(CocoError, match=f"{root / 'train2017'} has 4 .jpg images, expected 118287"):
        prepare_coco(root)  # official counts by default
    with pytest.raises(CocoError, match=r"instances_val2017.json lists 5 annotations, expected 36781"):
        prepare_coco(root, expected=EXPECTED_COUNTS | {"instances_val2017/annotations": 36781})
    assert not (root / "yolo" / "detect" / "labels").exists()  # nothing converted from a copy that failed checks
    with pytest.raises(CocoError, match=r"expected: unknown key.*val2017/images.*allowed: "):
        prepare_coco(root, expected={"val2017/images": 3})


def test_prepare_existing_copy_with_custom_out(tmp_path):
    root = extract_all(tmp_path / "coco")
    out = tmp_path / "elsewhere"
    manifest = prepare_coco(root, expected=EXPECTED_COUNTS, out=out)
    assert manifest["out"] == str(out.resolve())
    lines = (out / "detect" / "train2017.txt").read_text().splitlines()
    assert lines == [f"./images/train2017/{file_name(i)}" for i in TRAIN_IDS]
    assert (out / "detect" / "labels" / "train2017" / f"{file_name(1)[:-4]}.txt").read_text().splitlines() == [
        "0 0.25 0.333333 0.25 0.333333",
        "79 0.546875 0.520833 0.15625 0.208333",
    ]
    pose_row = (out / "pose" / "labels" / "train2017" / f"{file_name(4)[:-4]}.txt").read_text().split()
    assert len(pose_row) == 5 + 17 * 3 and pose_row[0] == "0"
    assert os.path.isabs(manifest["yaml"]["pose"]) and (out / "coco-pose.yaml").is_file()

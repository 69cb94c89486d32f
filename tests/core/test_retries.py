"""core/retries.py: the one out-of-memory policy. An accelerator is stood in for by torch's "meta" device
(its type is not "cpu"), whose attempts raise torch's CUDA out-of-memory error, as a full GPU would."""

import pytest
import torch

from napari_zssr.core.config import ZSSRConfig
from napari_zssr.core.progress import ZSSRReport
from napari_zssr.core.retries import on_cpu_after_oom, shrink_training, train_with_retries

META = torch.device("meta")


def _full_gpu(device, result="done"):
    if device.type != "cpu":
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    return result


def test_an_accelerator_out_of_memory_finishes_on_the_cpu_with_a_warning_and_a_note():
    notes, seen = [], []
    with pytest.warns(RuntimeWarning, match="out of memory restoring rows 0..8 on .*falling back to the CPU"):
        out = on_cpu_after_oom(lambda d: seen.append(d.type) or _full_gpu(d), META, "restoring rows 0..8", notes)
    assert out == "done" and seen == ["meta", "cpu"]
    assert len(notes) == 1 and "OutOfMemoryError: CUDA out of memory" in notes[0]


def test_the_cpu_out_of_memory_is_a_memory_error_saying_what_was_tried():
    def always(d):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB")

    with pytest.raises(MemoryError, match="out of memory in the final pass on .* even with tiles of 64 pixels "
                                          r"\(RuntimeError: DefaultCPUAllocator"):
        on_cpu_after_oom(always, torch.device("cpu"), "in the final pass", tried="even with tiles of 64 pixels")


def test_other_errors_pass_through_untouched():
    def broken(d):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        on_cpu_after_oom(broken, META, "training")


def test_training_shrinks_the_batch_then_the_crops_then_leaves_the_accelerator():
    cfg = ZSSRConfig.preset("fast", batch_size=4, crop_size=32)
    report = ZSSRReport(preset="fast", device="meta", scale=(2, 2), schedule=[], kernel="cubic", seed=0)
    tried = []

    def attempt(c, d):
        tried.append((d.type, c.batch_size, c.crop_size))
        return _full_gpu(d, (c.batch_size, c.crop_size))

    with pytest.warns(RuntimeWarning, match="even with batch 1 and crops of 16 pixels"):
        out = train_with_retries(attempt, cfg, META, report)
    assert tried == [("meta", 4, 32), ("meta", 2, 32), ("meta", 1, 32), ("meta", 1, 16), ("cpu", 4, 32)]
    assert out == (4, 32) and report.device.startswith("CPU")
    assert sum("retried with batch" in n for n in report.notes) == 3 and "falling back" in report.notes[-1]


def test_shrinking_stops_at_batch_one_and_crops_of_sixteen():
    assert shrink_training(ZSSRConfig.preset("fast", batch_size=1, crop_size=16)) is None
    smaller = shrink_training(ZSSRConfig.preset("fast", batch_size=1, crop_size=40))
    assert (smaller.batch_size, smaller.crop_size) == (1, 20)

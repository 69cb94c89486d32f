"""A small live plot of the training loss and the reconstruction error, drawn with QPainter."""

from __future__ import annotations

import itertools
import math

import numpy as np
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget


class LossPlot(QWidget):
    """A small live plot of the training loss and reconstruction error (log scale)."""

    def __init__(self):
        super().__init__()
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.loss, self.rec = [], []

    def clear(self):
        self.loss, self.rec = [], []
        self.update()

    def add(self, loss, rec):
        if loss is not None and loss > 0:
            self.loss.append(float(loss))
        if rec is not None and rec > 0 and math.isfinite(rec) and (not self.rec or rec != self.rec[-1]):
            self.rec.append(float(rec))
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 36))
        w, h = self.width(), self.height()
        for series, colour in ((self.loss, QColor(90, 170, 255)), (self.rec, QColor(255, 160, 60))):
            if len(series) < 2:
                continue
            v = np.log10(np.asarray(series))
            lo, hi = v.min(), v.max()
            span = hi - lo or 1.0
            p.setPen(QPen(colour, 1.5))
            pts = [(i * (w - 4) / (len(v) - 1) + 2, h - 4 - (x - lo) / span * (h - 8)) for i, x in enumerate(v)]
            for (x0, y0), (x1, y1) in itertools.pairwise(pts):
                p.drawLine(int(x0), int(y0), int(x1), int(y1))
        p.setPen(QColor(200, 200, 200))
        p.drawText(4, 12, "loss (blue), reconstruction error (orange), log scale")
        p.end()

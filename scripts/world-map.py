#!/usr/bin/env python3
"""Writes the world outline the HTML report draws its offline map on.

Source: Natural Earth 1:110m land (public domain), as TopoJSON in the npm package
world-atlas 2 (ISC licence, Mike Bostock). Fetch it through the npm registry and run:

    npm pack world-atlas@2 && tar xzf world-atlas-2.*.tgz
    python3 scripts/world-map.py package/land-110m.json > crates/investigate/src/render/land-110m.svgpath

The output is one SVG path (equirectangular: x = longitude + 180, y = 90 - latitude, so the
world is a 360 x 180 box) with coordinates rounded to a tenth of a degree; rings that cross the antimeridian are cut there.
"""
import json
import sys


def main(path):
    topo = json.load(open(path))
    scale, translate = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:  # delta-encoded, quantized
            x += dx
            y += dy
            points.append((x * scale[0] + translate[0], y * scale[1] + translate[1]))
        arcs.append(points)

    def ring(indexes):
        points = []
        for i in indexes:
            arc = arcs[i] if i >= 0 else arcs[~i][::-1]
            points.extend(arc if not points else arc[1:])
        return points

    out = []
    for geometry in topo["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for indexes in polygon:
                cells, last = [], None
                for lon, lat in ring(indexes):
                    cell = (round(lon + 180, 1), round(90 - lat, 1))
                    if cell != last:
                        cells.append(cell)
                        last = cell
                if len(cells) < 3:
                    continue
                # A ring that crosses the antimeridian is cut there rather than drawn across
                # the whole map.
                path, previous = "", None
                for x, y in cells:
                    jump = previous is None or abs(x - previous) > 180
                    path += ("M" if jump else "L") + f"{x:g} {y:g}"
                    previous = x
                out.append(path + "Z")
    sys.stdout.write("".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])

"""Runs LibreOffice's own solver on model sheets, through UNO. A standalone script.

It runs under the Python that has LibreOffice's `uno` module (Debian's python3-uno is
built for /usr/bin/python3), so it imports nothing from xlnet: xlnet.libreoffice starts
soffice, runs this with a JSON job, and reads one JSON line per sheet from stdout.
"""
import json
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.sheet import SolverConstraint
from com.sun.star.sheet.SolverConstraintOperator import GREATER_EQUAL, LESS_EQUAL
from com.sun.star.table import CellAddress

ENGINES = {
    "swarm": "com.sun.star.comp.Calc.SwarmSolver",
    "deps": "com.sun.star.comp.Calc.NLPSolver.DEPSSolverImpl",
    "sco": "com.sun.star.comp.Calc.NLPSolver.SCOSolverImpl",
}


def connect(pipe, seconds=60):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + seconds
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def set_options(solver, engine, time_limit):
    names = {p.Name for p in solver.getPropertySetInfo().getProperties()}
    if engine == "swarm":
        solver.setPropertyValue("Timeout", int(time_limit * 1000))  # milliseconds
        solver.setPropertyValue("Algorithm", 1)  # particle swarm
    if "EnhancedSolverStatus" in names:
        solver.setPropertyValue("EnhancedSolverStatus", False)  # its status dialog needs a screen
    for name in ("NonNegative", "AssumeNonNegative"):
        if name in names:
            solver.setPropertyValue(name, False)


def solve_sheet(smgr, ctx, doc, job, spec):
    sheet = doc.Sheets.getByName(spec["name"])
    index = sheet.RangeAddress.Sheet
    solver = smgr.createInstanceWithContext(ENGINES[job["engine"]], ctx)
    if solver is None:
        return {"sheet": spec["name"], "error": f"engine {job['engine']} is not installed"}
    variables = [CellAddress(index, c, r) for c, r in spec["variables"]]
    bound = job["bound"]
    constraints = []
    for v in variables:  # without bounds the swarm draws from +-3.4e38
        for op, value in ((GREATER_EQUAL, -bound), (LESS_EQUAL, bound)):
            c = SolverConstraint()
            c.Left, c.Operator, c.Right = v, op, value
            constraints.append(c)
    solver.Document = doc
    solver.Objective = CellAddress(index, *spec["objective"])
    solver.Variables = tuple(variables)
    solver.Constraints = tuple(constraints)
    solver.Maximize = False
    set_options(solver, job["engine"], job["time_limit"])
    start = time.monotonic()
    solver.solve()
    seconds = time.monotonic() - start
    solution = list(solver.Solution)[: len(variables)]  # swarm returns more entries than variables
    if len(solution) == len(variables):  # the cells hold the last trial, not the best
        for (c, r), value in zip(spec["variables"], solution):
            sheet.getCellByPosition(c, r).setValue(value)
    doc.calculateAll()
    objective = sheet.getCellByPosition(*spec["objective"]).getValue()
    return {"sheet": spec["name"], "solution": solution, "loss": objective, "seconds": seconds,
            "success": bool(solver.Success), "status": solver.StatusDescription or ""}


def main():
    job = json.loads(sys.stdin.read())
    ctx = connect(job["pipe"])
    smgr = ctx.ServiceManager
    desktop = smgr.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    hidden = PropertyValue()
    hidden.Name, hidden.Value = "Hidden", True
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(job["workbook"]), "_blank", 0, (hidden,))
    try:
        for spec in job["sheets"]:
            print(json.dumps(solve_sheet(smgr, ctx, doc, job, spec)), flush=True)
    finally:
        doc.close(True)
        try:
            desktop.terminate()  # soffice then exits by itself, removing its pipes from /tmp (a kill leaves them)
        except Exception:  # the bridge goes down as it exits
            pass


if __name__ == "__main__":
    main()

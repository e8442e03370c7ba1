#!/usr/bin/env python3
"""Checks that every public declaration of include/adapt.h is documented.

    check_api_docs.py Doxyfile adapt.h [doxygen]

Runs doxygen with the API reference's configuration, XML output and warnings as errors, then
fails on
  - any doxygen warning: an undocumented function, struct, field, typedef or macro, or a
    malformed comment (a @param naming no parameter, an unknown command, ...);
  - an undocumented enum value, which doxygen itself does not report;
  - a function of the header missing from the reference (e.g. when the @file comment that
    makes doxygen document the file's functions is lost).
Exits 77 (skipped) when doxygen is not installed.
"""
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path


def described(element):
    """Whether a doxygen XML element carries a brief or detailed description."""
    return any("".join(element.find(tag).itertext()).strip()
               for tag in ("briefdescription", "detaileddescription")
               if element.find(tag) is not None)


def undocumented(xml_dir):
    """Names of enum values, members and structs without any description."""
    missing = []
    for path in sorted(xml_dir.glob("*.xml")):
        if path.name == "index.xml" or path.name.endswith(".xsd"):
            continue
        compound = ET.parse(path).getroot().find("compounddef")
        if compound is None:
            continue
        owner = compound.findtext("compoundname")
        if compound.get("kind") == "struct" and not described(compound):
            missing.append(f"struct {owner}")
        # A member is listed under its file and again under its group: name it once.
        scope = owner + "::" if compound.get("kind") == "struct" else ""
        for member in compound.iter("memberdef"):
            if not described(member):
                missing.append(f"{member.get('kind')} {scope}{member.findtext('name')}")
            for value in member.iter("enumvalue"):
                if not described(value):
                    missing.append(f"enum value {member.findtext('name')}::"
                                   f"{value.findtext('name')}")
    return list(dict.fromkeys(missing))


def header_functions(header):
    text = re.sub(r"/\*.*?\*/", " ", header.read_text(), flags=re.S)
    return set(re.findall(r"(?m)^ADAPT_API\b[^;(]*?\b(adapt_\w+)\s*\(", text))


def main():
    doxyfile, header = Path(sys.argv[1]), Path(sys.argv[2])
    doxygen = sys.argv[3] if len(sys.argv) > 3 else shutil.which("doxygen")
    if not doxygen:
        print("doxygen not found (Debian: apt-get install doxygen): skipping the API docs check")
        return 77
    version = subprocess.run([doxygen, "--version"], capture_output=True, text=True)
    print(f"doxygen {version.stdout.strip()}")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        # Later settings override earlier ones: the reference's input and rules, scratch
        # output, warnings collected in a file and turned into a failing exit status.
        config = doxyfile.read_text() + "\n".join([
            "", f"OUTPUT_DIRECTORY = {out}", f"WARN_LOGFILE = {out / 'warnings.log'}",
            "WARN_AS_ERROR = FAIL_ON_WARNINGS", "QUIET = YES", "GENERATE_HTML = NO",
            "GENERATE_XML = YES", "XML_PROGRAMLISTING = NO", ""])
        run = subprocess.run([doxygen, "-"], input=config, capture_output=True, text=True)
        log = out / "warnings.log"
        warnings = log.read_text().strip().splitlines() if log.exists() else []
        warnings = list(dict.fromkeys(warnings))  # file and group report the same member
        flagged = [line for line in warnings if re.search(r"(warning|error):", line)]
        for line in warnings:
            print(line)
        if run.returncode != 0 and not flagged:
            print(run.stdout + run.stderr)
            flagged.append(f"doxygen exited with status {run.returncode}")
        xml_dir = out / "xml"
        missing = undocumented(xml_dir)
        for name in missing:
            print(f"undocumented: {name}")
        documented = set()
        if (xml_dir / "index.xml").exists():
            documented = {m.findtext("name")
                          for m in ET.parse(xml_dir / "index.xml").getroot().iter("member")
                          if m.get("kind") == "function"}
        absent = sorted(header_functions(header) - documented)
        for name in absent:
            print(f"missing from the reference: {name}")
    if flagged or missing or absent:
        print(f"FAIL: {len(flagged)} doxygen warnings, {len(missing)} undocumented "
              f"declarations, {len(absent)} functions missing from the reference")
        return 1
    print(f"OK: {len(header_functions(header))} functions and every struct, field, enum value, "
          "typedef and macro of adapt.h are documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Doxygen INPUT_FILTER: read a public header whose doc comments are written
for GObject introspection (gtk-doc syntax) and print it with Doxygen syntax,
line for line (so Doxygen's warnings keep their line numbers).

  /**                                   /**
   * symbol_name: (skip)                 *
   * @param: (out): text          ->     * @param param text
   *                                     *
   * Description, @param, %NULL.         * Description, @p param, NULL.
   *                                     *
   * Returns: (transfer full): text      * @return text
   */                                    */

Also the one-line form `/** symbol_name: text */`; `@member:` lines of a
struct's or enum's block become `/**< text */` on the member's line; signal
blocks (`Type::signal:`) become a paragraph of the type's documentation;
the header's opening `/*` comment becomes its `@file` documentation.
Text outside backticks is escaped for Doxygen (backslashes, `<...>`).

Usage (Doxyfile): INPUT_FILTER = "python3 gtkdoc-filter.py"
"""
import re
import sys

IDENT_RE = re.compile(r"^(?P<name>[A-Za-z_]\w*(?::{1,2}[\w-]+)?):(?P<rest>.*)$")
ANNOT_RE = re.compile(r"\((?:transfer|nullable|skip|out|inout|in|scope|closure|destroy|"
                      r"element-type|array|type|optional|not nullable|allow-none|"
                      r"caller-allocates|constructor|method|virtual|rename-to)[^()]*\)\s*")
PARAM_RE = re.compile(r"^@(?P<name>\w+):\s?(?P<text>.*)$")
RETURNS_RE = re.compile(r"^Returns:\s?(?P<text>.*)$")


def escape(text):
    """Doxygen-safe prose: escape outside `code` spans."""
    out = []
    for i, part in enumerate(re.split(r"(`[^`]*`)", text)):
        if i % 2:
            out.append(part)
            continue
        part = part.replace("\\", "\\\\")
        part = re.sub(r"<(/?[\w.:-]*)>", r"\\<\1\\>", part)
        part = re.sub(r"(?<![\w\\])@(\w)", r"@p \1", part)
        part = re.sub(r"(?<![\w&])#(\w)", r"\1", part)
        part = part.replace("%", "")
        out.append(part)
    return "".join(out)


def strip_annotations(text):
    return ANNOT_RE.sub("", text).lstrip(": ").strip() if ANNOT_RE.match(text.strip()) \
        else text


def body_of(line):
    """(prefix, text) of a comment line ' * text'."""
    m = re.match(r"^(\s*\*\s?)(.*)$", line)
    return (m.group(1), m.group(2)) if m else ("", line)


def next_decl(lines, j):
    """The first code line after the comment (index j = the line after */)."""
    while j < len(lines) and (not lines[j].strip() or lines[j].strip().startswith("/*")):
        if lines[j].strip().startswith("/*"):
            while j < len(lines) and "*/" not in lines[j]:
                j += 1
        j += 1
    return j


def member_lines(lines, start):
    """Indices of the lines of the struct/enum body starting at @start."""
    depth = 0
    for j in range(start, len(lines)):
        depth += lines[j].count("{") - lines[j].count("}")
        if depth <= 0 and j > start:
            return start, j
        if "{" not in lines[start]:
            return start, start
    return start, start


def has_members(decl):
    """A declaration whose block documents members: a struct or enum body."""
    return re.match(r"^\s*(typedef\s+)?(struct|enum|union)\b[^;(]*\{?\s*$", decl) is not None


def convert_block(block, lines, end):
    """Convert the comment lines block[0..] (a '/**' block); returns (new
    lines, {member: text} for the declaration that follows)."""
    first = block[0]
    one_line = "*/" in first
    members = {}
    if one_line:
        m = re.match(r"^(\s*/\*\*\s*)(.*?)(\s*\*/\s*)$", first)
        if not m or m.group(2).startswith("<"):
            return [escape_line(first)], members
        im = IDENT_RE.match(m.group(2))
        text = m.group(2)
        if im:
            text = strip_annotations(im.group("rest").strip())
        return [m.group(1) + escape(text) + m.group(3)], members
    out = [block[0]]
    i = 1
    # the identifier line: ' * name: [annotations] [text]'
    prefix, text = body_of(block[1]) if len(block) > 1 else ("", "")
    im = IDENT_RE.match(text)
    signal = None
    if im:
        name, rest = im.group("name"), strip_annotations(im.group("rest").strip())
        if "::" in name:
            signal = name.split("::")
            out[0] = block[0].rstrip() + " \\typedef %s" % signal[0]
            out.append(prefix + "\\par Signal \"%s\"" % signal[1])
        else:
            out.append(prefix + escape(rest) if rest else prefix.rstrip())
        i = 2
    decl_at = next_decl(lines, end + 1)
    is_type = decl_at < len(lines) and has_members(lines[decl_at]) and not signal
    cur = None
    while i < len(block):
        line = block[i]
        if "*/" in line:
            out.append(line)
            i += 1
            continue
        prefix, text = body_of(line)
        pm = PARAM_RE.match(text)
        rm = RETURNS_RE.match(text)
        if pm:
            ptext = strip_annotations(pm.group("text"))
            if is_type:
                members[pm.group("name")] = ptext
                cur = pm.group("name")
                out.append(prefix.rstrip())
            elif signal:
                out.append(prefix + "- %s: %s" % (pm.group("name"), escape(ptext)))
                cur = None
            else:
                out.append(prefix + "@param %s %s" % (pm.group("name"), escape(ptext)))
                cur = None
        elif rm:
            out.append(prefix + "@return " + escape(strip_annotations(rm.group("text"))))
            cur = None
        elif cur and text.startswith(" ") and text.strip():
            members[cur] += " " + text.strip()
            out.append(prefix.rstrip())
        else:
            cur = None
            out.append(prefix + escape(text) if text else prefix.rstrip())
        i += 1
    return out, members


def escape_line(line):
    m = re.match(r"^(\s*/\*\*<?\s*)(.*?)(\s*\*/\s*)$", line)
    return m.group(1) + escape(m.group(2)) + m.group(3) if m else line


def annotate_members(lines, start, members):
    """Append /**< text */ to the member declarations of the struct or enum
    at @start (on the line where each declaration ends)."""
    s, e = member_lines(lines, start)
    is_enum = re.search(r"\benum\b", lines[start]) is not None
    ends = r"[,]?\s*$" if is_enum else r";\s*$"
    for j in range(s + 1, e):
        code = lines[j].split("/*")[0]
        for name, text in list(members.items()):
            if re.search(r"(\b%s\b\s*(=[^,]*)?,?\s*$)|(\(\s*\*\s*%s\s*\))|(\b%s\s*(\[[^\]]*\])?\s*;)"
                         % (name, name, name), code):
                k = j
                while k < e and not re.search(ends, lines[k].split("/*")[0]):
                    k += 1
                end = lines[k].split("/*")[0]
                lines[k] = end.rstrip() + " /**< " + escape(text) + " */"
                del members[name]
                break


def private_sections(lines):
    """gtk-doc's /*< private >*/ ... /*< public >*/ (or the end of the struct)
    as Doxygen's @cond ... @endcond: private fields are not API."""
    private = False
    for j, line in enumerate(lines):
        if re.search(r"/\*<\s*private\s*>\*/", line):
            lines[j] = re.sub(r"/\*<\s*private\s*>\*/", "/** @cond PRIVATE */", line)
            private = True
        elif re.search(r"/\*<\s*public\s*>\*/", line) and private:
            lines[j] = re.sub(r"/\*<\s*public\s*>\*/", "/** @endcond */", line)
            private = False
        elif private and re.match(r"^\s*\}", line):
            lines[j] = "/** @endcond */ " + line
            private = False


def file_comment(lines, out):
    """The header's opening comment ('/*' on the first line: name - what)
    documents the file (Doxygen lists a file's functions, and warns about
    the undocumented ones, only for a documented file)."""
    if not lines or lines[0].strip() != "/*":
        out[0] = "/** @file */ " + out[0]  # documented all the same: checked
        return
    out[0] = "/** @file"
    j = 1
    while j < len(lines) and "*/" not in lines[j]:
        prefix, text = body_of(lines[j])
        out[j] = prefix + escape(text) if text else prefix.rstrip()
        j += 1


def main():
    lines = open(sys.argv[1]).read().split("\n")
    out = list(lines)
    file_comment(lines, out)
    i = 0
    pending = []  # (decl line index, members)
    while i < len(lines):
        line = lines[i]
        if re.match(r"^\s*/\*\*(?!<)", line):
            j = i
            while "*/" not in lines[j]:
                j += 1
            new, members = convert_block(lines[i:j + 1], lines, j)
            out[i:j + 1] = new
            if members:
                pending.append((next_decl(lines, j + 1), members))
            i = j + 1
            continue
        if re.match(r"^\s*.*/\*\*<", line):
            out[i] = re.sub(r"(/\*\*<\s*)(.*?)(\s*\*/)",
                            lambda m: m.group(1) + escape(m.group(2)) + m.group(3), line)
        i += 1
    for start, members in pending:
        annotate_members(out, start, members)
    private_sections(out)
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()

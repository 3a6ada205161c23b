"""Image references in Dockerfiles: `FROM` lines and `COPY --from=`, with their exact spans.

Follows the parser's rules a reader would trip on: line continuations with the `# escape=`
directive, comments inside continuations, heredoc bodies, and stage names that are not images.
A `FROM` built from the `ARG`s declared before the first `FROM` (the only ones it can use)
carries the reference with their defaults put in (`with_defaults`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tagwatch.core.image_uses import ImageUse, RefKind, read_reference

__all__ = ["dockerfile_images", "expand_args", "is_dockerfile"]

_DOCKERFILE_NAME = re.compile(
    r"(?i)^(?:docker|container)file(?:\..+)?$|.+\.(?:docker|container)file$"
)
_FIRST_INSTRUCTION = re.compile(r"(?i)^\s*(from|arg)\s+\S")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
#: `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}`, as the Dockerfile parser expands them.
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-+])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def is_dockerfile(path: str, text: str) -> bool:
    """A Dockerfile by name (Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*) or content."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name.lower().endswith((".yaml", ".yml", ".json")):
        return False
    if _DOCKERFILE_NAME.match(name):
        return True
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return bool(_FIRST_INSTRUCTION.match(stripped)) and ": " not in stripped
    return False


@dataclass(frozen=True, slots=True)
class _Instruction:
    """A logical Dockerfile line: its text and the offset in the file of each of its characters."""

    text: str
    offsets: tuple[int, ...]
    line: int  # 1-based line of its first character

    def tokens(self) -> Iterator[tuple[str, int]]:
        for match in re.finditer(r"\S+", self.text):
            yield match.group(), match.start()


def _escape_char(text: str) -> str:
    for line in text.splitlines():
        directive = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", line, re.IGNORECASE)
        if directive:
            return directive.group(1)
        if not re.match(r"^#\s*\w+\s*=", line):
            break
    return "\\"


def _instructions(text: str) -> Iterator[_Instruction]:
    escape = _escape_char(text)
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    position = 0
    for line in lines:
        starts.append(position)
        position += len(line)
    index = 0
    heredoc: tuple[str, bool] | None = None
    while index < len(lines):
        if heredoc is not None:
            word, strip = heredoc
            body = lines[index].rstrip("\r\n")
            if (body.lstrip("\t") if strip else body) == word:
                heredoc = None
            index += 1
            continue
        chars: list[str] = []
        offsets: list[int] = []
        first_line = index + 1
        while index < len(lines):
            raw = lines[index]
            content = raw.rstrip("\r\n")
            stripped = content.strip()
            if chars and (not stripped or stripped.startswith("#")):
                index += 1  # comments and blank lines inside a continuation are dropped
                continue
            if not chars and (not stripped or stripped.startswith("#")):
                index += 1
                first_line = index + 1
                break
            body = content.rstrip()
            continued = body.endswith(escape)
            if continued:
                body = body[: -len(escape)]
            for column, char in enumerate(body):
                chars.append(char)
                offsets.append(starts[index] + column)
            index += 1
            if not continued:
                break
            chars.append(" ")
            offsets.append(-1)
        if chars:
            instruction = _Instruction("".join(chars), tuple(offsets), first_line)
            yield instruction
            marker = _HEREDOC.search(instruction.text)
            if marker and instruction.text.split(None, 1)[0].upper() in ("RUN", "COPY", "ADD"):
                heredoc = (marker.group(3), marker.group(1) == "-")


def _line_of(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _declare(tokens: list[tuple[str, int]], args: dict[str, str | None]) -> None:
    """`ARG NAME[=default] ...`: record each name with its default (None: none given)."""
    for token, _ in tokens[1:]:
        name, eq, value = token.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        args[name] = value if eq else None


def expand_args(image: str, args: dict[str, str | None]) -> tuple[str | None, list[str]]:
    """`image` with the build args' defaults put in, or None and the args that have none."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        current = args.get(name)
        op, word = match.group("op"), match.group("word") or ""
        if op == "-":
            return current or word
        if op == "+":
            return word if current else ""
        if current is None:
            missing.append(name)
            return ""
        return current

    expanded = _VARIABLE.sub(value, image)
    return (None, missing) if missing else (expanded, [])


def dockerfile_images(text: str, path: str) -> list[ImageUse]:
    uses: list[ImageUse] = []
    stages: set[str] = set()
    stage_count = 0
    build_args: dict[str, str | None] = {}  # ARGs before the first FROM: those FROM can use
    for instruction in _instructions(text):
        tokens = list(instruction.tokens())
        if not tokens:
            continue
        keyword = tokens[0][0].upper()
        if keyword == "ARG" and stage_count == 0:
            _declare(tokens, build_args)
        elif keyword == "FROM":
            args = [t for t in tokens[1:] if not t[0].startswith("--")]
            platform = next(
                (
                    t[0].split("=", 1)[1]
                    for t in tokens[1:]
                    if t[0].lower().startswith("--platform=")
                ),
                None,
            )
            if not args:
                continue
            image, position = args[0]
            alias = args[2][0] if len(args) >= 3 and args[1][0].upper() == "AS" else None
            stage_count += 1
            label = f"stage {alias}" if alias else f"stage {stage_count - 1}"
            where = f"FROM ({label}{', platform ' + platform if platform else ''})"
            if image.lower() != "scratch" and image.lower() not in stages:
                uses.append(
                    _docker_use(
                        text, path, instruction, image, position, RefKind.FROM, where, build_args
                    )
                )
            if alias:
                stages.add(alias.lower())
        elif keyword in ("COPY", "ADD"):
            for token, position in tokens[1:]:
                if not token.lower().startswith("--from="):
                    continue
                image = token.split("=", 1)[1]
                if image.lower() in stages or image.isdigit():
                    continue
                start = position + len("--from=")
                uses.append(
                    _docker_use(
                        text, path, instruction, image, start, RefKind.COPY_FROM, "COPY --from"
                    )
                )
    return uses


def _docker_use(
    text: str,
    path: str,
    instruction: _Instruction,
    image: str,
    position: int,
    kind: RefKind,
    where: str,
    args: dict[str, str | None] | None = None,
) -> ImageUse:
    start = instruction.offsets[position]
    end_index = position + len(image) - 1
    contiguous = instruction.offsets[end_index] == start + len(image) - 1
    line, column = _line_of(text, start)
    if "$" in image:
        expanded, missing = expand_args(image, args or {})
        with_defaults = read_reference(expanded, kind="image")[0] if expanded else None
        unset = f"; no default for {', '.join(dict.fromkeys(missing))}" if missing else ""
        return ImageUse(
            path,
            line,
            column,
            kind,
            image,
            None,
            where,
            problem=f"uses a build argument ({image}{unset}): the image is chosen at build "
            "time and cannot be checked here; pin the ARG default or the --build-arg",
            with_defaults=with_defaults,
        )
    ref, problem, invalid = read_reference(image, kind="image")
    span = (
        (start, start + len(image))
        if contiguous and text[start : start + len(image)] == image
        else None
    )
    return ImageUse(
        path, line, column, kind, image, ref, where, span=span, problem=problem, invalid=invalid
    )

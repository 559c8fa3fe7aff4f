"""The knowledge base: split documents into cited sections and keep the store in step with them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import asyncpg

from services.agent.embeddings import Embedder, as_vector

SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
MAX_SECTION_CHARS = 1500
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True, slots=True)
class Chunk:
    document: str
    title: str
    heading_path: str
    position: int
    content: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.heading_path}\n{self.content}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Document:
    name: str  # path relative to the ingested root: the citation
    text: str
    kind: str  # "markdown" | "text" | "html"


DEMO_SOURCE = "demo"


def demo_kb_path() -> Path:
    return Path(str(resources.files("services.agent") / "demo_kb"))


def collect_documents(paths: Iterable[Path]) -> list[Document]:
    documents: list[Document] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
            documents += [_read(p, p.relative_to(path).as_posix()) for p in files]
        elif path.is_file():
            documents.append(_read(path, path.name))
        else:
            raise FileNotFoundError(path)
    return documents


def _read(path: Path, name: str) -> Document:
    suffix = path.suffix.lower()
    kind = "html" if suffix in (".html", ".htm") else "text" if suffix == ".txt" else "markdown"
    return Document(name=name, text=path.read_text(encoding="utf-8", errors="replace"), kind=kind)


def split_document(doc: Document) -> list[Chunk]:
    text = _html_to_markdown(doc.text) if doc.kind == "html" else doc.text
    fallback_title = Path(doc.name).stem.replace("-", " ").replace("_", " ").strip().capitalize()
    sections = _sections(text) if doc.kind != "text" else [((), text)]
    title = next((path[0] for path, _ in sections if path), fallback_title)
    chunks: list[Chunk] = []
    for path, body in sections:
        heading_path = " > ".join(path) if path else title
        for piece in _bounded(body.strip()):
            if piece:
                chunks.append(Chunk(doc.name, title, heading_path, len(chunks), piece))
    return chunks


def _sections(text: str) -> list[tuple[tuple[str, ...], str]]:
    sections: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_code = False

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append((tuple(h for _, h in stack), body))
        lines.clear()

    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match.group(2).strip()))
        else:
            lines.append(line)
    flush()
    return sections


def _bounded(body: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Split a long section at paragraph boundaries (then sentences) into pieces under the limit."""
    if len(body) <= limit:
        return [body]
    pieces: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", body):
        units = [para] if len(para) <= limit else re.split(r"(?<=[.!?])\s+", para)
        for unit in units:
            unit = unit[:limit]
            if current and len(current) + len(unit) + 2 > limit:
                pieces.append(current)
                current = ""
            current = f"{current}\n\n{unit}" if current else unit
    if current:
        pieces.append(current)
    return pieces


class _HtmlText(HTMLParser):
    _BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "ul", "ol", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in self._BLOCK:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(re.sub(r"\s+", " ", data))


def _html_to_markdown(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.out)).strip()


_LIST_OR_ROW = re.compile(r"^\s*(?:\d+[.)]|[-*+](?: \[[ xX]\])?)\s+|^\s*\|")
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")
MIN_PASSAGE_CHARS = 12


def passages(content: str) -> list[str]:
    """A section's answer-sized pieces: each list item and table row, each sentence of prose."""
    found: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        text = " ".join(prose).strip()
        prose.clear()
        found.extend(s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", text) if s)

    for line in content.splitlines():
        if not line.strip() or line.strip() == "---" or _TABLE_RULE.match(line):
            flush()
        elif _LIST_OR_ROW.match(line):
            flush()
            found.append(line)
        else:
            prose.append(line.strip())
    flush()
    cleaned = [_clean_passage(p) for p in found]
    return [p for p in cleaned if len(p) >= MIN_PASSAGE_CHARS]


def _clean_passage(text: str) -> str:
    text = re.sub(r"^\s*(?:\d+[.)]|[-*+](?: \[[ xX]\])?)\s+", "", text)
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"\s*\|\s*", " | ", text).strip(" |")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True, slots=True)
class IngestReport:
    added: int
    unchanged: int
    removed_documents: int
    chunks: int
    embedded: int = 0


def source_of(path: Path) -> str:
    """A source is the folder (or file) given to `fte kb ingest`: what disappears from it is removed."""
    return str(Path(path).resolve())


async def ingest(
    pool: asyncpg.Pool, documents: Sequence[Document], *, source: str, embedder: Embedder | None = None
) -> IngestReport:
    """Make the store hold exactly ``documents`` for ``source``: changed documents are replaced,
    unchanged ones kept (by content hash), documents no longer present removed; then the sections
    without an embedding from ``embedder`` are embedded."""
    added = unchanged = chunk_count = 0
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('kb-ingest', 0))")
        for doc in documents:
            chunks = split_document(doc)
            chunk_count += len(chunks)
            stored = await conn.fetch(
                "SELECT content_hash FROM knowledge_chunks WHERE source = $1 AND document = $2 ORDER BY position",
                source,
                doc.name,
            )
            if [r["content_hash"] for r in stored] == [c.content_hash for c in chunks]:
                unchanged += 1
                continue
            await conn.execute("DELETE FROM knowledge_chunks WHERE source = $1 AND document = $2", source, doc.name)
            await _insert(conn, source, chunks)
            added += 1
        removed = int(
            await conn.fetchval(
                """WITH gone AS (DELETE FROM knowledge_chunks WHERE source = $1 AND NOT (document = ANY($2::text[]))
                                 RETURNING document)
                   SELECT count(DISTINCT document) FROM gone""",
                source,
                [d.name for d in documents],
            )
        )
    embedded = await embed_missing(pool, embedder) if embedder else 0
    return IngestReport(added, unchanged, removed, chunk_count, embedded)


async def _insert(conn: asyncpg.Connection, source: str, chunks: list[Chunk]) -> None:
    rows = await conn.fetch(
        """INSERT INTO knowledge_chunks (source, document, title, heading_path, position, content, content_hash)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
           RETURNING id, position""",
        source,
        [c.document for c in chunks],
        [c.title for c in chunks],
        [c.heading_path for c in chunks],
        [c.position for c in chunks],
        [c.content for c in chunks],
        [c.content_hash for c in chunks],
    )
    ids = {row["position"]: row["id"] for row in rows}
    pieces = [(ids[c.position], i, text) for c in chunks for i, text in enumerate(passages(c.content))]
    await conn.executemany("INSERT INTO knowledge_passages (chunk_id, position, content) VALUES ($1, $2, $3)", pieces)


async def embed_missing(pool: asyncpg.Pool, embedder: Embedder, *, batch: int = 64) -> int:
    """Embed every section and passage that has no embedding from this embedder yet; returns how many
    sections were embedded."""
    sections = await _embed_table(
        pool,
        embedder,
        batch,
        select="""SELECT id, heading_path || E'\n' || content AS text FROM knowledge_chunks
                  WHERE embedding IS NULL OR embedded_with IS DISTINCT FROM $1 ORDER BY id LIMIT $2""",
        update="UPDATE knowledge_chunks SET embedding = $2, embedded_with = $3 WHERE id = $1",
    )
    await _embed_table(
        pool,
        embedder,
        batch,
        select="""SELECT p.id, c.heading_path || ': ' || p.content AS text
                  FROM knowledge_passages p JOIN knowledge_chunks c ON c.id = p.chunk_id
                  WHERE p.embedding IS NULL OR p.embedded_with IS DISTINCT FROM $1 ORDER BY p.id LIMIT $2""",
        update="UPDATE knowledge_passages SET embedding = $2, embedded_with = $3 WHERE id = $1",
    )
    return sections


async def _embed_table(pool: asyncpg.Pool, embedder: Embedder, batch: int, *, select: str, update: str) -> int:
    done = 0
    while True:
        rows = await pool.fetch(select, embedder.name, batch)
        if not rows:
            return done
        vectors = await embedder.embed([r["text"] for r in rows])
        await pool.executemany(
            update, [(r["id"], as_vector(v), embedder.name) for r, v in zip(rows, vectors, strict=True)]
        )
        done += len(rows)

"""The camera grammar: which moves, pace and transition a prompt asks for. Plain text in, names out.

No model: a small set of regular expressions over camera verbs, each with a direction. Only verbs
about the camera count ("pan", "truck", "crane"...); "walks left" or "a rolling sea" describe the
subject. docs/motion.md lists every phrase; keep it in step with the tables here.

The prompt is normalised first (`normalise`), so that the tables only ever see one spelling:
lower case, single spaces, "push-in" -> "push in", "pullback" -> "pull back".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal


class _Lazy:
    """A regular expression compiled when first used: compiling the tables costs more than parsing a
    prompt (~0.05-0.13 s, paid by every process that imports the engine, most of which parse none)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled

    def search(self, text: str, pos: int = 0, endpos: int = 2**63 - 1) -> re.Match[str] | None:
        return self.compiled.search(text, pos, endpos)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text)

    def sub(self, replacement: Callable[[re.Match[str]], str] | str, text: str) -> str:
        return self.compiled.sub(replacement, text)


Pace = Literal["slow", "normal", "fast"]
Transition = Literal["crossfade", "morph", "match_move", "cut"]

# Spellings rewritten before matching. Joined forms are the hyphenated ones without the hyphen;
# "dolly zoom" (the vertigo shot needs real depth, which a photo lacks) is played as a push-in.
REWRITES: dict[str, str] = {
    "pullback": "pull back",
    "pullout": "pull out",
    "pushin": "push in",
    "zoomin": "zoom in",
    "zoomout": "zoom out",
    "jumpcut": "jump cut",
    "hardcut": "hard cut",
    "whippan": "whip pan",
    "dolly zoom": "push in",
}
_REWRITE = _Lazy(r"\b(?:" + "|".join(re.escape(words) for words in REWRITES) + r")\b")
# Words between "camera" and its verb that say nothing about the move: "the camera then moves left".
_CAMERA_FILLER = _Lazy(
    r"\bcamera\s+(?:(?:then|now|also|just|will|would|should|must|again|finally|first|eventually"
    r"|(?:starts?|begins?)\s+to)\s+)+"
)


def normalise(prompt: str) -> str:
    """Lower case, one space between words, hyphens as spaces, joined forms split, filler dropped."""
    text = prompt.lower().replace("\u2019", "'")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # "push-in", "left-to-right", "hand-held"
    text = " ".join(text.split())  # one space between words, so patterns may use \s+
    text = _REWRITE.sub(lambda match: REWRITES[match.group()], text)
    return _CAMERA_FILLER.sub("camera ", text)


def _inflect(word: str) -> str:
    """A regex for a verb in its common forms: pan/pans/panned/panning, dolly/dollies/dollying..."""
    if word in ("pan", "jib", "drop", "spin", "crab"):  # short verbs that double their last consonant
        forms = [word, word + "s", word + word[-1] + "ed", word + word[-1] + "ing"]
    elif word.endswith("e"):
        forms = [word, word + "s", word + "d", word[:-1] + "ing"]
    elif word.endswith("y") and word[-2] not in "aeiou":
        forms = [word, word[:-1] + "ies", word[:-1] + "ied", word + "ing"]
    elif word.endswith(("sh", "ch", "s")):
        forms = [word, word + "es", word + "ed", word + "ing"]
    else:
        forms = [word, word + "s", word + "ed", word + "ing"]
    return "(?:" + "|".join(forms) + ")"


# Optional adverbs around a verb: "very slowly pan to the left", "pan gently left".
_ADVERB = (
    r"(?:(?:very|really|quite|so)\s+)?"
    r"(?:(?:slowly|gently|quickly|rapidly|smoothly|steadily|softly|fast|dramatically|slightly|subtly"
    r"|gradually|swiftly)\s+)?"
)
# "tilt the camera up", "pan your camera to the left": the camera as the verb's object.
_CAMERA_OBJECT = r"(?:(?:the|your)\s+camera\s+)?"
_TO_THE = r"(?:to(?:wards?)?\s+(?:the\s+)?)?"
# Verbs that are only a camera move with "camera" before them ("the camera moves left", not "a dog
# moves left"). A look-behind, so that a match starts at the verb, as every other phrase does: the
# earliest phrase in a category wins, and a phrase's position must not depend on its subject.
_AFTER_CAMERA = r"(?<=camera )"


def _verbs(*words: str) -> str:
    """Any form of any of `words`, with optional adverbs and "the camera" after it, then a space."""
    verbs = "|".join(_inflect(word) for word in words)
    return r"\b" + _ADVERB + r"(?:" + verbs + r")\s+" + _CAMERA_OBJECT + _ADVERB


def _camera_verbs(*words: str) -> str:
    return _AFTER_CAMERA + _verbs(*words)


def _camera_does(*words: str) -> str:
    """The camera is the subject and the verb says it all: "the camera rises", "the camera rolls"."""
    return _AFTER_CAMERA + _ADVERB + r"(?:" + "|".join(_inflect(word) for word in words) + r")\b"


def _toward(side: str) -> str:
    """ "pans slowly across the field to the right": a side a few words after the verb (words only)."""
    return rf"(?:[\w']+\s+){{1,6}}?to(?:wards?)?\s+the\s+{side}\b"


def _sweep(start: str, end: str) -> str:
    """ "(from) left to right": a move towards `end`, up to four words after its verb ("pans across the
    room from left to right"). Words only: a comma ends the phrase."""
    return rf"(?:[\w']+\s+){{0,4}}?(?:from\s+)?(?:the\s+)?{start}\s+to\s+(?:the\s+)?{end}\b"


_LEFT = _TO_THE + r"left(?:wards?)?\b"
_RIGHT = _TO_THE + r"right(?:wards?)?\b"
_UP = r"up(?:wards?)?\b"
_DOWN = r"down(?:wards?)?\b"
_IN = r"(?:in(?:to|wards?)?|closer|forwards?|towards?)\b"
_OUT = r"(?:out|back(?:wards?)?|away)\b"
_CLOCKWISE = r"(?:clockwise|cw)\b"
_COUNTER = r"(?:counter\s?clockwise|anti\s?clockwise|ccw)\b"
_TO_RIGHT = _sweep("left", "right")
_TO_LEFT = _sweep("right", "left")
_TO_BOTTOM = _sweep("top", "bottom")
_TO_TOP = _sweep("bottom", "top")
_RISING = r"(?:up(?:wards?)?|ris(?:es|ing)|ascend(?:s|ing)|climb(?:s|ing))\b"
_SINKING = r"(?:down(?:wards?)?|descend(?:s|ing)|lower(?:s|ing)|sink(?:s|ing)|drop(?:s|ping))\b"
_CRANE_SHOT = r"\b(?:crane|boom|jib|pedestal)\s+shots?\s+(?:[\w']+\s+)?"
_TRACKING_SHOT = r"\b(?:tracking|trucking|dolly)\s+shots?\s+"


@dataclass(frozen=True)
class Phrase:
    move: str  # "pan", "tilt", "truck", "crane", "orbit", "roll": the seed picks the side (camera.py)
    pattern: _Lazy
    directed: bool = True  # False: the verb alone ("a slow pan"); any directed phrase wins over it


def _phrase(move: str, regex: str) -> Phrase:
    return Phrase(move, _Lazy(regex))


def _verb_alone(move: str, regex: str) -> Phrase:
    return Phrase(move, _Lazy(regex), directed=False)


# Within a category the first directed phrase in the prompt wins (phrases at the same position are
# tried in the order listed, most specific first); a verb alone counts only when no directed phrase
# does. Categories combine.
CATEGORIES: dict[str, list[Phrase]] = {
    # An optical zoom: the lens changes, the camera stays; no parallax. "zoom" alone zooms in.
    "zoom": [
        _phrase("zoom_in", _verbs("zoom") + _IN),
        _phrase("zoom_out", _verbs("zoom") + _OUT),
        _verb_alone("zoom_in", r"\bzoom(?:s|ed|ing)?\b(?!\s+(?:lens|lenses|call|calls|meeting|meetings)\b)"),
    ],
    # A dolly: the camera itself travels forward or back; near things grow faster (parallax).
    "dolly": [
        _phrase("push_in", _verbs("push", "dolly", "track") + _IN),
        _phrase("push_in", _camera_verbs("move", "glide", "creep", "drift") + _IN),
        _phrase("push_in", r"\bmov(?:e|ing)\s+" + _ADVERB + r"forwards?\b"),
        _phrase("push_in", r"\bforwards?\s+(?:tracking|dolly)\s+shots?\b|" + _TRACKING_SHOT + r"forwards?\b"),
        _phrase("pull_out", _verbs("pull", "dolly", "track") + _OUT),
        _phrase("pull_out", _camera_verbs("move", "glide", "drift") + _OUT),
        _phrase(
            "pull_out", r"\bbackwards?\s+(?:tracking|dolly)\s+shots?\b|" + _TRACKING_SHOT + r"backwards?\b"
        ),
    ],
    # Pan and tilt turn the camera on its head: everything slides together.
    "pan": [
        _phrase("pan_right", _verbs("pan") + _TO_RIGHT),
        _phrase("pan_left", _verbs("pan") + _TO_LEFT),
        _phrase("pan_left", _verbs("pan") + _LEFT),
        _phrase("pan_right", _verbs("pan") + _RIGHT),
        _phrase("pan_left", _camera_verbs("turn", "swing", "swivel") + _LEFT),
        _phrase("pan_right", _camera_verbs("turn", "swing", "swivel") + _RIGHT),
        _phrase("pan_left", _verbs("pan") + _toward("left")),
        _phrase("pan_right", _verbs("pan") + _toward("right")),
        # Not the kitchen pan: "a frying pan", "a pan of water", "peter pan".
        _verb_alone(
            "pan",
            r"(?<!frying )(?<!sauce )(?<!baking )(?<!roasting )(?<!cake )(?<!dust )(?<!peter )"
            r"\bpan(?:s|ned|ning)?\b(?!\s+(?:of|flute|pipes?|fried|am)\b)",
        ),
    ],
    "tilt": [
        _phrase("tilt_down", _verbs("tilt") + _TO_BOTTOM),
        _phrase("tilt_up", _verbs("tilt") + _TO_TOP),
        _phrase("tilt_up", _verbs("tilt") + _UP),
        _phrase("tilt_down", _verbs("tilt") + _DOWN),
        # Not "tilt-shift" nor "tilts her head" (a subject); "dutch tilt" is a roll.
        _verb_alone("tilt", r"(?<!dutch )\btilt(?:s|ing)?\b(?!\s+shift\b)(?!\s+(?:[\w']+\s+)?head\b)"),
        _verb_alone("tilt", _camera_does("tilt")),
    ],
    # Truck and crane carry the camera sideways or up: near things slide faster (parallax).
    "truck": [
        _phrase("truck_right", _verbs("truck", "track", "dolly", "crab") + _TO_RIGHT),
        _phrase("truck_left", _verbs("truck", "track", "dolly", "crab") + _TO_LEFT),
        _phrase("truck_left", _verbs("truck", "track", "dolly", "crab") + _LEFT),
        _phrase("truck_right", _verbs("truck", "track", "dolly", "crab") + _RIGHT),
        _phrase("truck_right", _camera_verbs("move", "slide", "glide", "drift") + _TO_RIGHT),
        _phrase("truck_left", _camera_verbs("move", "slide", "glide", "drift") + _TO_LEFT),
        _phrase("truck_left", _camera_verbs("move", "slide", "glide", "drift") + _LEFT),
        _phrase("truck_right", _camera_verbs("move", "slide", "glide", "drift") + _RIGHT),
        _phrase("truck_left", _verbs("truck", "track", "crab") + _toward("left")),
        _phrase("truck_right", _verbs("truck", "track", "crab") + _toward("right")),
        _phrase("truck_left", _TRACKING_SHOT + _LEFT),
        _phrase("truck_right", _TRACKING_SHOT + _RIGHT),
        # "a truck" is a lorry: alone, only the shot's name or the camera doing it.
        _verb_alone(
            "truck",
            r"(?<!forward )(?<!forwards )(?<!backward )(?<!backwards )"
            r"\b(?:tracking|trucking|crab)\s+shots?\b",
        ),
        _verb_alone("truck", _camera_does("truck", "track", "crab")),
    ],
    "crane": [
        _phrase("crane_up", _verbs("crane", "pedestal", "boom", "jib") + _UP),
        _phrase("crane_down", _verbs("crane", "pedestal", "boom", "jib") + _DOWN),
        _phrase("crane_up", _camera_verbs("move", "lift", "float") + _UP),
        _phrase("crane_down", _camera_verbs("move", "drop", "sink") + _DOWN),
        _phrase("crane_up", _camera_does("rise", "ascend")),
        _phrase("crane_down", _camera_does("descend", "sink", "lower")),
        _phrase("crane_up", _CRANE_SHOT + _RISING),
        _phrase("crane_down", _CRANE_SHOT + _SINKING),
        # "a crane" is a bird or a machine: alone, only the shot's name or the camera doing it.
        _verb_alone("crane", r"\b(?:crane|boom|jib|pedestal)\s+shots?\b"),
        _verb_alone("crane", _camera_does("crane", "boom", "jib", "pedestal")),
    ],
    # Clockwise as seen from above, as drone apps use it: circling clockwise, the camera travels to
    # its left around the subject.
    "orbit": [
        _phrase("orbit_left", _verbs("orbit", "arc", "circle") + r"(?:around\s+)?" + _LEFT),
        _phrase("orbit_right", _verbs("orbit", "arc", "circle") + r"(?:around\s+)?" + _RIGHT),
        _phrase("orbit_left", _verbs("orbit", "arc", "circle") + r"(?:around\s+)?" + _CLOCKWISE),
        _phrase("orbit_right", _verbs("orbit", "arc", "circle") + r"(?:around\s+)?" + _COUNTER),
        _verb_alone("orbit", r"\b(?:orbit|arc)(?:s|ing|ed)?\b|\bcircl(?:es?|ing)\s+around\b"),
    ],
    # Directions describe the camera, as the operator sees it: a camera that rolls clockwise makes
    # the picture turn counter-clockwise on screen. Without a direction, the seed picks one.
    "roll": [
        _phrase("roll_clockwise", _verbs("roll", "rotate", "spin", "turn") + _CLOCKWISE),
        _phrase("roll_counterclockwise", _verbs("roll", "rotate", "spin", "turn") + _COUNTER),
        _verb_alone("roll", _camera_does("roll", "rotate", "spin")),
        _verb_alone("roll", r"\bcamera\s+roll\b|\bdutch\s+(?:angle|tilt)\b"),
    ],
    "handheld": [
        _phrase("handheld", r"\bhand\s?held\b|\bshaky\s+(?:cam(?:era)?|footage)\b|\bcamera\s+shake\b"),
    ],
}

# "(does) not move", "doesn't move": said of the camera, a static phrase; of anything, stillness.
_NOT_MOVE = (
    r"(?:(?:do|does|did|will|would|should|must)\s+)?not\s+move\b"
    r"|(?:don't|doesn't|didn't|won't|never)\s+moves?\b"
)
# A camera that does not move: these phrases win over every move in the prompt.
STATIC_PHRASES = _Lazy(
    r"\bstatic\s+(?:camera|shot|frame|view|angle)\b|\block(?:ed)?\s?off\b"
    r"|\bstill\s+(?:camera|shot|frame)\b|\bfixed\s+(?:camera|shot|frame|angle|view)\b"
    r"|\b(?:stationary|motionless)\s+camera\b"
    r"|\bno\s+camera\s+(?:movement|motion|moves?)\b"
    r"|\bwithout\s+(?:any\s+)?camera\s+(?:movement|motion)\b"
    r"|\bcamera\s+(?:" + _NOT_MOVE + ")"
    # "the camera stays still", but not "is still panning" nor "remains fixed on the dancer"
    r"|\bcamera\s+(?:is|stays|remains|holds|keeps|stands)\s+(?:perfectly\s+|completely\s+|totally\s+)?"
    r"(?:still|static|fixed|stationary|motionless)\b(?!\s+(?:on|to|at|upon)\b)(?!\s+\w+ing\b)"
    r"|\bcamera\s+(?:still|static|fixed|stationary|motionless)\s*(?:[,.;:!]|$)"
)
# Stillness not said of the camera: a static word as a clause of its own ("still", "a cat on a sofa,
# static"), or "no movement", "doesn't move" said of anything ("the dog doesn't move"). These stop
# the camera only when no move is named, since they also describe scenes ("static electricity",
# "still water", "no movement in the water, pan right").
STATIC_WORD = _Lazy(
    r"(?:^|[,.;:!]\s*)(?:static|still|fixed|stationary|motionless)\s*(?:[,.;:!]|$)"
    r"|\bno\s+(?:movement|motion|moves?)\b(?!\s+blur)|\bwithout\s+(?:any\s+)?(?:movement|motion)\b"
    r"|\b(?:" + _NOT_MOVE + ")"
)

# "do not pan left", "no zoom", "without panning": the phrase right after is refused. Up to two words
# may come between ("don't ever pan"), but not a conjunction, which starts a new request.
_NEGATED = _Lazy(
    r"\b(?:don't|dont|do\s+not|doesn't|does\s+not|never|no|not|without|avoid)\s+"
    r"(?:(?!(?:and|but|then|or|just|only|instead)\b)[\w']+\s+){0,2}$"
)


def refused(text: str, match: re.Match[str]) -> bool:
    """Whether `match` comes right after a refusal ("no", "don't", "without"...)."""
    return _NEGATED.search(text, 0, match.start()) is not None


# Pace words count only about the camera ("a slow pan", "pan left quickly", "the camera gently rises";
# see `_pace_words`): "a quick brown fox", "dramatic lighting" or "slow motion of a waterfall" describe
# the scene.
_SLOW = r"(?:slow(?:ly)?|gentl[ey]|subtle|subtly|slight(?:ly)?)"
_FAST = r"(?:fast|quick(?:ly)?|rapid(?:ly)?|dramatic(?:ally)?|swift(?:ly)?|whip)"
_CAMERA_WORDS = (
    "zoom push pull dolly track truck crab pan tilt crane pedestal boom jib orbit arc circle roll rotate "
    "spin move glide creep drift slide rise ascend descend sink lift float"
)
_CAMERA_WORD = (
    r"(?:camera|shot|movement|" + "|".join(_inflect(word) for word in _CAMERA_WORDS.split()) + r")\b"
)
# What may stand between a pace word and its camera word: "slow and steady pan", "a slow then fast
# pan" (before); "pan to the left quickly", "zoom in very slowly" (after).
_BEFORE = (
    rf"(?:very|really|quite|so|a|an|the|and|then|or|but|smooth|smoothly|steady|steadily|{_SLOW}|{_FAST})"
)
_AFTER = (
    r"(?:(?:to\s+(?:the\s+)?)?(?:left|right)(?:wards?)?|up(?:wards?)?|down(?:wards?)?|in|into|out|back|away"
)
_AFTER += r"|forwards?|backwards?|closer|very|really|quite|so)"


def _pace_words(words: str, adverbs: str) -> list[_Lazy]:
    """Where pace words count, in one clause (commas end clauses): next to a camera word; as an adverb
    anywhere in a clause that has a camera word ("orbit the statue slowly"); as a clause of their own
    ("pan right, fast")."""
    return [
        _Lazy(rf"\b{words}(?:\s+{_BEFORE})*\s+{_CAMERA_WORD}|\b{_CAMERA_WORD}(?:\s+{_AFTER})*\s+{words}\b"),
        _Lazy(rf"\b{adverbs}\b[^,.;:!?]*\b{_CAMERA_WORD}|\b{_CAMERA_WORD}[^,.;:!?]*\b{adverbs}\b"),
        _Lazy(rf"(?:^|[,.;:!?]\s*)(?:(?:very|really|quite|so)\s+)?{words}\s*(?:[,.;:!?]|$)"),
    ]


# "Ken Burns" names the default move (a push-in with a drift) at its classic, slow pace.
KEN_BURNS = _Lazy(r"\bken\s+burns\b")
SLOW_PACE = [*_pace_words(_SLOW, r"(?:slowly|gently|subtly|slightly)"), KEN_BURNS]
FAST_PACE = _pace_words(_FAST, r"(?:quickly|rapidly|dramatically|swiftly)")
_ANY_SLOW, _ANY_FAST = _Lazy(rf"\b{_SLOW}"), _Lazy(rf"\b{_FAST}")

# "cut" alone is too common ("a cake being cut"); only editing phrases pick the match-move. The engine
# has no instant cut: "hard cut" and "jump cut" get the match-move, the shortest transition (0.25 s).
TRANSITION_WORDS: list[tuple[Transition, _Lazy]] = [
    ("morph", _Lazy(r"\bmorph(?:s|ed|ing)?\b|\bmetamorphos[ie]s\b")),
    (
        "crossfade",
        _Lazy(r"\bdissolv(?:e|es|ed|ing)\b|\bcross\s?fad(?:e|es|ed|ing)\b|\bfades?\s+(?:in)?to\b"),
    ),
    ("match_move", _Lazy(r"\bmatch\s?(?:cut|move|moving)s?\b")),
    (
        "cut",
        _Lazy(r"\b(?:hard|jump|straight|instant|smash)\s+cuts?\b|\bcuts?\s+(?:to|between)\b"),
    ),
]


@dataclass(frozen=True)
class ParsedPrompt:
    moves: tuple[str, ...]  # one per category, in CATEGORIES order; ("static",) alone; empty: none named
    pace: Pace
    transition: Transition | None  # None: the prompt does not say; the seed picks


def parse_prompt(prompt: str) -> ParsedPrompt:
    return ParsedPrompt(find_moves(prompt), find_pace(prompt), find_transition(prompt))


def find_moves(prompt: str) -> tuple[str, ...]:
    """The named moves in a prompt, one per category, in a fixed order; empty if none.

    Precedence: a static phrase wins over every move; then the moves named and not refused; a prompt
    that only refuses moves ("don't zoom"), or names none but has a static word alone, is static."""
    text = normalise(prompt)
    if any(not refused(text, match) for match in STATIC_PHRASES.finditer(text)):
        return ("static",)
    found = []
    any_refused = False
    for phrases in CATEGORIES.values():
        hits = []
        for order, phrase in enumerate(phrases):
            for match in phrase.pattern.finditer(text):
                if refused(text, match):
                    any_refused = True
                else:
                    hits.append((not phrase.directed, match.start(), order, phrase.move))
                    break
        if hits:
            found.append(min(hits)[3])
    if not found and (any_refused or STATIC_WORD.search(text)):
        return ("static",)
    return tuple(found)


def find_pace(prompt: str) -> Pace:
    text = normalise(prompt)
    # Every pace pattern needs one of its words at a word boundary: most prompts have none, and then
    # the long patterns are never compiled.
    slow = KEN_BURNS.search(text) is not None or (
        _ANY_SLOW.search(text) is not None and any(pattern.search(text) for pattern in SLOW_PACE)
    )
    fast = _ANY_FAST.search(text) is not None and any(pattern.search(text) for pattern in FAST_PACE)
    if slow == fast:  # neither, or both: the words cancel out
        return "normal"
    return "slow" if slow else "fast"


def find_transition(prompt: str) -> Transition | None:
    """The transition named earliest in the prompt and not refused ("no dissolve"), if any."""
    text = normalise(prompt)
    hits = [
        (match.start(), name)
        for name, pattern in TRANSITION_WORDS
        for match in pattern.finditer(text)
        if not refused(text, match)
    ]
    return min(hits)[1] if hits else None

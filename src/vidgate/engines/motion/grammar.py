"""The camera grammar: which moves, pace and transition a prompt asks for. Plain text in, names out.

No model: a small set of regular expressions over camera verbs, each with a direction. Only verbs
about the camera count ("pan", "truck", "crane"...); "walks left" or "a rolling sea" describe the
subject. docs/motion.md lists every phrase; keep it in step with the tables here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Pace = Literal["slow", "normal", "fast"]
Transition = Literal["crossfade", "morph", "match_move"]


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
    r"(?:(?:slowly|gently|quickly|rapidly|smoothly|steadily|softly|fast|dramatically|slightly|subtly)\s+)?"
)
_TO_THE = r"(?:to(?:wards?)?\s+(?:the\s+)?)?"
# Verbs that are only a camera move with "camera" before them ("the camera moves left", not "a dog
# moves left"). A look-behind, so that a match starts at the verb, as every other phrase does: the
# earliest phrase in a category wins, and a phrase's position must not depend on its subject.
_AFTER_CAMERA = r"(?<=camera )"


def _verbs(*words: str) -> str:
    """Any form of any of `words`, with optional adverbs before and after, then a space."""
    return r"\b" + _ADVERB + r"(?:" + "|".join(_inflect(word) for word in words) + r")\s+" + _ADVERB


def _camera_verbs(*words: str) -> str:
    return _AFTER_CAMERA + _verbs(*words)


def _camera_does(*words: str) -> str:
    """The camera is the subject and the verb says it all: "the camera rises", "the camera rolls"."""
    return _AFTER_CAMERA + _ADVERB + r"(?:" + "|".join(_inflect(word) for word in words) + r")\b"


_LEFT = _TO_THE + r"left(?:wards?)?\b"
_RIGHT = _TO_THE + r"right(?:wards?)?\b"
_UP = r"up(?:wards?)?\b"
_DOWN = r"down(?:wards?)?\b"
_IN = r"(?:in(?:to|wards?)?|closer|forwards?)\b"
_OUT = r"(?:out|back|away)\b"
_CLOCKWISE = r"(?:clockwise|cw)\b"
_COUNTER = r"(?:counter[- ]?clockwise|anti[- ]?clockwise|ccw)\b"

# Each category keeps the phrase that comes first in the prompt; categories combine. Within a
# category, phrases at the same position are tried in the order listed (most specific first).
CATEGORIES: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    # An optical zoom: the lens changes, the camera stays; no parallax.
    "zoom": [
        ("zoom_in", re.compile(_verbs("zoom") + _IN)),
        ("zoom_out", re.compile(_verbs("zoom") + _OUT)),
    ],
    # A dolly: the camera itself travels forward or back; near things grow faster (parallax).
    "dolly": [
        ("push_in", re.compile(_verbs("push", "dolly", "track") + _IN)),
        ("push_in", re.compile(_camera_verbs("move", "glide", "creep", "drift") + _IN)),
        ("pull_out", re.compile(_verbs("pull", "dolly", "track") + _OUT)),
        ("pull_out", re.compile(_camera_verbs("move", "glide", "drift") + _OUT)),
    ],
    # Pan and tilt turn the camera on its head: everything slides together.
    "pan": [
        ("pan_left", re.compile(_verbs("pan") + _LEFT)),
        ("pan_right", re.compile(_verbs("pan") + _RIGHT)),
    ],
    "tilt": [
        ("tilt_up", re.compile(_verbs("tilt") + _UP)),
        ("tilt_down", re.compile(_verbs("tilt") + _DOWN)),
    ],
    # Truck and crane carry the camera sideways or up: near things slide faster (parallax).
    "truck": [
        ("truck_left", re.compile(_verbs("truck", "track", "dolly", "crab") + _LEFT)),
        ("truck_right", re.compile(_verbs("truck", "track", "dolly", "crab") + _RIGHT)),
        ("truck_left", re.compile(_camera_verbs("move", "slide", "glide", "drift") + _LEFT)),
        ("truck_right", re.compile(_camera_verbs("move", "slide", "glide", "drift") + _RIGHT)),
    ],
    "crane": [
        ("crane_up", re.compile(_verbs("crane", "pedestal", "boom", "jib") + _UP)),
        ("crane_down", re.compile(_verbs("crane", "pedestal", "boom", "jib") + _DOWN)),
        ("crane_up", re.compile(_camera_verbs("move", "lift", "float") + _UP)),
        ("crane_down", re.compile(_camera_verbs("move", "drop", "sink") + _DOWN)),
        ("crane_up", re.compile(_camera_does("rise", "ascend"))),
        ("crane_down", re.compile(_camera_does("descend", "sink", "lower"))),
    ],
    "orbit": [
        ("orbit_left", re.compile(_verbs("orbit", "arc", "circle") + r"(?:around\s+)?" + _LEFT)),
        ("orbit_right", re.compile(_verbs("orbit", "arc", "circle") + r"(?:around\s+)?" + _RIGHT)),
        ("orbit", re.compile(r"\b(?:orbit|arc)(?:s|ing|ed)?\b|\bcircl(?:es?|ing)\s+around\b")),
    ],
    # Directions describe the camera, as the operator sees it: a camera that rolls clockwise makes
    # the picture turn counter-clockwise on screen. Without a direction, the seed picks one.
    "roll": [
        ("roll_clockwise", re.compile(_verbs("roll", "rotate", "spin", "turn") + _CLOCKWISE)),
        ("roll_counterclockwise", re.compile(_verbs("roll", "rotate", "spin", "turn") + _COUNTER)),
        ("roll", re.compile(_camera_does("roll", "rotate", "spin"))),
        ("roll", re.compile(r"\bcamera\s+roll\b|\bdutch\s+(?:angle|tilt)\b")),
    ],
    "handheld": [
        ("handheld", re.compile(r"\bhand[- ]?held\b|\bshaky\s+(?:cam(?:era)?|footage)\b|\bcamera\s+shake\b")),
    ],
    "static": [
        (
            "static",
            re.compile(
                r"\bstatic\b|\block(?:ed)?[- ]?off\b|\bstill\s+(?:camera|shot|frame)\b"
                r"|\bfixed\s+(?:camera|shot)\b|\bno\s+camera\s+(?:movement|motion|moves?)\b"
                r"|\bcamera\s+(?:is\s+|stays\s+|remains\s+|holds\s+)?(?:still|static|fixed)\b"
            ),
        ),
    ],
}

# Only words about the camera's pace: "soft light" or "a calm sea" describe the scene, not the move.
_SLOW_WORDS = re.compile(r"\b(?:slow(?:ly)?|gentl[ey]|subtle|subtly|slight(?:ly)?)\b")
_FAST_WORDS = re.compile(r"\b(?:fast|quick(?:ly)?|rapid(?:ly)?|dramatic(?:ally)?|swift(?:ly)?)\b")

# "cut" alone is too common ("a cake being cut"); only editing phrases pick the match-move.
TRANSITION_WORDS: list[tuple[Transition, re.Pattern[str]]] = [
    ("morph", re.compile(r"\bmorph(?:s|ed|ing)?\b|\bmetamorphos[ie]s\b")),
    (
        "crossfade",
        re.compile(r"\bdissolv(?:e|es|ed|ing)\b|\bcross[- ]?fad(?:e|es|ed|ing)\b|\bfades?\s+(?:in)?to\b"),
    ),
    (
        "match_move",
        re.compile(
            r"\bmatch[- ]?(?:cut|move|moving)s?\b|\b(?:hard|jump)\s+cuts?\b|\bcuts?\s+(?:to|between)\b"
        ),
    ),
]


@dataclass(frozen=True)
class ParsedPrompt:
    moves: tuple[str, ...]  # one per category, in CATEGORIES order; empty when none is named
    pace: Pace
    transition: Transition | None  # None: the prompt does not say; the seed picks


def parse_prompt(prompt: str) -> ParsedPrompt:
    text = " ".join(prompt.lower().split())  # one space between words, so patterns may use \s+
    return ParsedPrompt(find_moves(text), find_pace(text), find_transition(text))


def find_moves(prompt: str) -> tuple[str, ...]:
    """The named moves in a prompt, one per category, in a fixed order; empty if none."""
    text = " ".join(prompt.lower().split())
    found = []
    for phrases in CATEGORIES.values():
        hits = []
        for order, (name, pattern) in enumerate(phrases):
            match = pattern.search(text)
            if match:
                hits.append((match.start(), order, name))
        if hits:
            found.append(min(hits)[2])
    return tuple(found)


def find_pace(prompt: str) -> Pace:
    text = prompt.lower()
    slow = _SLOW_WORDS.search(text) is not None
    fast = _FAST_WORDS.search(text) is not None
    if slow == fast:  # neither, or both: the words cancel out
        return "normal"
    return "slow" if slow else "fast"


def find_transition(prompt: str) -> Transition | None:
    """The transition named earliest in the prompt, if any."""
    text = " ".join(prompt.lower().split())
    hits = [(match.start(), name) for name, pattern in TRANSITION_WORDS if (match := pattern.search(text))]
    return min(hits)[1] if hits else None

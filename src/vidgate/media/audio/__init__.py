"""The sound of a video, made locally: music (`music`), spoken lines (`speech`, `voices`), a bed of
ambience (`ambience`), mixed and mastered (`mix`); `soundtrack` puts them together for a task.

This package file imports nothing on purpose: the API imports `voices` (pure Python) without paying
for numpy, scipy and eSpeak.
"""

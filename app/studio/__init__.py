"""The process owner's studio: drafts of process models, their checks and scenarios, publishing
them as new versions, and moving running instances onto those versions."""

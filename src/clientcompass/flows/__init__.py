"""Lead-capture flows: what the business asks and does while nobody is at the desk.

definition.py is the stored format (read it first: the runtime interprets exactly that),
validate.py what a definition must satisfy to be saved, starters.py the templates a business
starts from, service.py drafts and immutable published versions.
"""

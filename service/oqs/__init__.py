"""The national interface (オンライン資格確認等システム): its XML messages, over HTTP and through folders.

`xmltree` reads and writes the messages, `messages` maps them to and from the JSON
confirmation API, `gateway` answers them over HTTP, `bridge` connects the req/res
folders of a reception system to a server.  Decisions and sources: docs/oqs.md.
"""

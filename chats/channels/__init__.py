"""Channel adapters and their endpoints: Telegram, the website widget and the mobile app
(docs/channels.md). Each channel parses its own format at its edge and calls the message
services; nothing here writes a model directly except through `chats.services` and
`customers.identities`.
"""

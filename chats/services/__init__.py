"""Every write in chats. Import the functions from their modules:
`chats.services.conversations`, `chats.services.messages`, `chats.services.templates`."""

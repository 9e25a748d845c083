"""``roster export``: a client of Roster's export API, as ``roster.loader`` is of its write API:
it speaks HTTP to a Roster server, never to its insides."""

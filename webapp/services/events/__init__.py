"""Events (performances): the catalogue the platform keeps up to date, the tickets bought
for them, who holds them and who came."""

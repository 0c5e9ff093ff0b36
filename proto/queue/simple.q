sesrelay-queue 1
id 01a2493921684f8c5d1c
created 1796524810
from app@example.com
utf8 0
8bit 0
rcpt r@example.org
batch 50
sum 9e6c272fa3dba6bcaadd811200e3510194714672d7b763368772812cb2f0d7d3
body 127
state P
attempts 0000000000
next 00000000001796524810
hold 0
error                                                                                                                                                                                                         
end
Received: from client (unknown [127.0.0.1]) by relay (sesrelay)
From: a@example.com
Subject: hi
Message-ID: <1@x>

hello

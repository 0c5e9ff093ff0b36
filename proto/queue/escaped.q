sesrelay-queue 1
id 01a2493921684f8c5d1e
created 1796524810
from a%20b%25c@example.com
utf8 0
8bit 0
rcpt %C3%A9@example.org
rcpt "q%20r"@example.org
batch 1
sum c121064cdacf95dbc6056ff262464e5e90c73e991895f7ef7fa1ac4eddd10ae8
body 0
state PP
attempts 0000000000
next 00000000001796524810
hold 0
error                                                                                                                                                                                                         
end
